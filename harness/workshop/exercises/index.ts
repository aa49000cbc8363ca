import type { Exercise } from "../types.ts";
import { tour } from "./01-tour.ts";
import { scale } from "./02-scale.ts";
import { killPrimary } from "./03-kill-primary.ts";
import { quickRestart } from "./04-quick-restart.ts";
import { restFailover, switchover } from "./05-switchover.ts";
import { hba, settings } from "./06-settings.ts";
import { patroniKill, patroniKillSync } from "./07-patroni-kill.ts";
import { isolate } from "./08-isolate.ts";

/** The workshop's exercises, in teaching order; `--exercise N` counts from 1. */
export const EXERCISES: readonly Exercise[] = [tour, scale, killPrimary, quickRestart, switchover, restFailover, settings, hba, patroniKill, patroniKillSync, isolate];

/** `{leader}`, `{target}`, `{scope}`, `{ttl}` of an exercise's text and commands. */
export function fillIn(text: string, v: { leader?: string; target?: string; scope: string; ttl: number }): string {
  return text
    .replaceAll("{leader}", v.leader ?? "LEADER")
    .replaceAll("{target}", v.target ?? "TARGET")
    .replaceAll("{scope}", v.scope)
    .replaceAll("{ttl}", String(v.ttl));
}

/** The commands printed in a text: its lines that start with `$ `. */
export function textCommands(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("$ "))
    .map((l) => l.slice(2));
}

/** Commands quoted inline with backticks, such as \`ws kill primary\`: learners type these too. */
export function inlineCommands(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((c) => /^(ws|patronictl|curl|psql|etcdctl|install|sed) /.test(c));
}
