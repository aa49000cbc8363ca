import type { Platform } from "./types.ts";
import { localPlatform } from "./local/index.ts";
import { UsageError } from "../util/errors.ts";

const platforms: Record<string, Platform> = { local: localPlatform };

export function getPlatform(name: string): Platform {
  const p = platforms[name];
  if (!p) throw new UsageError(`unknown platform "${name}": available platforms are ${Object.keys(platforms).join(", ")}`);
  return p;
}
