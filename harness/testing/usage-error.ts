import { expect } from "vitest";
import { UsageError } from "../util/errors.ts";

/** Awaits `p`, expects it to reject with a UsageError (exit 2 in the CLIs), and returns it for its message. */
export async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UsageError);
  return e as UsageError;
}
