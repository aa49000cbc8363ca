import type { Platform } from "./types.ts";
import { localPlatform } from "./local/index.ts";
import { dockerPlatform } from "./docker/index.ts";
import { kindPlatform, kubePlatform, minikubePlatform } from "./kube/lazy.ts";
import { UsageError } from "../util/errors.ts";

const platforms: Record<string, Platform> = { local: localPlatform, docker: dockerPlatform, kind: kindPlatform, minikube: minikubePlatform, kube: kubePlatform };

export const PLATFORM_NAMES = Object.keys(platforms);

export function getPlatform(name: string): Platform {
  const p = platforms[name];
  if (!p) throw new UsageError(`unknown platform "${name}": available platforms are ${Object.keys(platforms).join(", ")}`);
  return p;
}
