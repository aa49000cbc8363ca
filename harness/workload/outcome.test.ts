import { describe, expect, it } from "vitest";
import { classifyWriteError, describeError, isReadOnlyError } from "./outcome.ts";

/** What pg's DatabaseError carries for a server-sent ErrorResponse. */
const serverError = (code: string, severity: string, message = "boom") => Object.assign(new Error(message), { code, severity });
/** What Node's net module gives for a broken socket. */
const systemError = (code: string, syscall = "write") =>
  Object.assign(new Error(`${syscall} ${code}`), { code, errno: -32, syscall });

describe("classifyWriteError", () => {
  it("is a definite fail when the statement was never sent, whatever the error", () => {
    expect(classifyWriteError(new Error("Connection terminated unexpectedly"), false)).toBe("fail");
    expect(classifyWriteError(serverError("57P01", "FATAL"), false)).toBe("fail");
    expect(classifyWriteError(undefined, false)).toBe("fail");
  });

  it.each([
    ["25006", "read-only transaction"],
    ["23505", "unique violation"],
    ["40001", "serialization failure"],
    ["42P01", "undefined table"],
  ])("is a definite fail for a server ERROR %s (%s)", (code) => {
    expect(classifyWriteError(serverError(code, "ERROR"), true)).toBe("fail");
  });

  it("is unknown (info) for a FATAL or PANIC, even with a code that would otherwise fail", () => {
    expect(classifyWriteError(serverError("57P01", "FATAL", "terminating connection due to administrator command"), true)).toBe("info");
    expect(classifyWriteError(serverError("XX000", "FATAL"), true)).toBe("info");
    expect(classifyWriteError(serverError("XX000", "PANIC"), true)).toBe("info");
  });

  it.each(["08000", "08003", "08006", "08P01", "57P01", "57P03"])("is unknown (info) for class 08/57 code %s at ERROR severity", (code) => {
    expect(classifyWriteError(serverError(code, "ERROR"), true)).toBe("info");
  });

  it.each([
    ["socket closed", new Error("Connection terminated unexpectedly")],
    ["client-side timeout", new Error("Query read timeout")],
    ["not an Error", "something odd"],
    ["null", null],
    ["undefined", undefined],
    ["malformed code", Object.assign(new Error("x"), { code: "abc", severity: "ERROR" })],
    ["non-string code", Object.assign(new Error("x"), { code: 23505, severity: "ERROR" })],
    ["code without a severity (not a server ErrorResponse)", Object.assign(new Error("x"), { code: "23505" })],
  ])("is unknown (info) when the server gave no SQLSTATE: %s", (_label, err) => {
    expect(classifyWriteError(err, true)).toBe("info");
  });

  it.each(["EPIPE", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH"])("is unknown (info) for a socket error %s after sending", (code) => {
    // EPIPE is five capital letters, the shape of a SQLSTATE: it must not be taken for a server answer.
    expect(classifyWriteError(systemError(code), true)).toBe("info");
  });
});

describe("describeError", () => {
  it("prefixes the SQLSTATE when there is one", () => {
    expect(describeError(serverError("25006", "ERROR", "cannot execute INSERT in a read-only transaction"))).toBe(
      "25006 cannot execute INSERT in a read-only transaction",
    );
  });

  it("is the bare message without a SQLSTATE", () => {
    expect(describeError(new Error("Query read timeout"))).toBe("Query read timeout");
    expect(describeError(Object.assign(new Error("odd"), { code: "x1" }))).toBe("odd");
  });

  it("stringifies what is not an error", () => {
    expect(describeError("plain text")).toBe("plain text");
    expect(describeError(42)).toBe("42");
    expect(describeError(undefined)).toBe("undefined");
    expect(describeError(null)).toBe("null");
  });
});

describe("isReadOnlyError", () => {
  it("is true for 25006 only", () => {
    expect(isReadOnlyError(serverError("25006", "ERROR"))).toBe(true);
    expect(isReadOnlyError(serverError("23505", "ERROR"))).toBe(false);
    expect(isReadOnlyError(new Error("cannot execute INSERT in a read-only transaction"))).toBe(false);
    expect(isReadOnlyError(undefined)).toBe(false);
    expect(isReadOnlyError(null)).toBe(false);
  });
});

describe("describeError on socket errors", () => {
  it("does not present a Node error code as a SQLSTATE", () => {
    expect(describeError(systemError("EPIPE"))).toBe("write EPIPE");
  });
});
