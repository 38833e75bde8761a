import type { AgentClient } from "../agent/index.js";
import type { ReadinessCheck } from "../config/index.js";

/**
 * One readiness check, run in the guest through its agent: every check is a command, so it needs no
 * network path from the launcher to the VM (private networks are not reachable from the login node).
 */
export function probeArgv(check: ReadinessCheck): string[] {
  switch (check.kind) {
    case "tcp": {
      // a listening socket on the port, from the kernel's tables (no client tool needed in the image)
      const hex = check.port.toString(16).toUpperCase().padStart(4, "0");
      return ["sh", "-c", `grep -qE ':${hex} [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null`];
    }
    case "cloud-init":
      return ["test", "-e", "/var/lib/cloud/instance/boot-finished"];
    case "exec":
      return ["sh", "-c", check.command];
  }
}

/** Longest a probe may run before it counts as failed (an exec: check that hangs). */
const PROBE_TIMEOUT_MS = 30_000;

/** Runs the probe once: passed, or what the last attempt said (exit status, last stderr line). */
export async function probeOnce(
  client: AgentClient,
  check: ReadinessCheck,
): Promise<{ ok: boolean; detail: string }> {
  let stderr = "";
  let timer: NodeJS.Timeout | undefined;
  try {
    const e = await client.exec({
      argv: probeArgv(check),
      onStderr: (d) => (stderr = (stderr + d.toString("utf8")).slice(-500)),
    });
    const r = await Promise.race([
      e.result,
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), PROBE_TIMEOUT_MS))),
    ]);
    if (r === "timeout") {
      await e.kill("SIGKILL").catch(() => undefined);
      return { ok: false, detail: `still running after ${PROBE_TIMEOUT_MS / 1000} s` };
    }
    const last = stderr.trim().split("\n").pop() ?? "";
    const status = r.signal !== undefined ? `signal ${r.signal}` : `exit ${r.code}`;
    return { ok: r.code === 0, detail: last ? `${status}: ${last}` : status };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Retry delays: quick at first (a service about to listen), then every 2 s. */
export function backoffMs(attempt: number): number {
  return Math.min(2000, 200 * 2 ** attempt);
}
