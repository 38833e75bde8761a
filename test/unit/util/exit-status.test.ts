import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { exitStatus } from "../../../src/util/exit-status.js";

/** Starts a real child that waits, kills it with `sig` once it runs, and maps how it ended. */
function killedWith(sig: NodeJS.Signals): Promise<number> {
  return new Promise((resolve, reject) => {
    // the child says it is ready only after its handlers are the default ones, so the signal kills it
    const child = spawn(process.execPath, ["-e", "console.log('ready'); setInterval(() => {}, 1000)"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.once("data", () => child.kill(sig));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(exitStatus(code, signal)));
  });
}

describe("exitStatus", () => {
  it("is 143 for a child killed by SIGTERM and 130 for SIGINT", async () => {
    expect(await killedWith("SIGTERM")).toBe(143);
    expect(await killedWith("SIGINT")).toBe(130);
    expect(await killedWith("SIGKILL")).toBe(137);
  });
  it("is the exit code of a child that exited", async () => {
    const code = await new Promise<number>((resolve) =>
      spawn(process.execPath, ["-e", "process.exit(7)"]).on("exit", (c, s) => resolve(exitStatus(c, s))),
    );
    expect(code).toBe(7);
    expect(exitStatus(0, null)).toBe(0);
  });
});
