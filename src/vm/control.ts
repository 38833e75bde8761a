import { isAbsolute } from "node:path";
import { PcoccError } from "../util/index.js";
import { QmpClient } from "./qmp.js";

async function withQmp<T>(qmpSocket: string, fn: (qmp: QmpClient) => Promise<T>): Promise<T> {
  const qmp = await QmpClient.connect(qmpSocket, { timeoutMs: 10_000 });
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}

export function resetVm(qmpSocket: string): Promise<void> {
  return withQmp(qmpSocket, async (qmp) => {
    await qmp.execute("system_reset");
  });
}

/** Runs a human monitor (HMP) command and returns its text output. */
export function monitorCommand(qmpSocket: string, commandLine: string): Promise<string> {
  return withQmp(qmpSocket, (qmp) =>
    qmp.execute<string>("human-monitor-command", { "command-line": commandLine }),
  );
}

interface DumpStatus {
  status: "none" | "active" | "completed" | "failed";
  completed: number;
  total: number;
}

/** Writes the guest memory as an ELF core to `file` (on the VM's node), reporting progress. */
export function dumpMemory(
  qmpSocket: string,
  file: string,
  onProgress?: (p: { done: number; total: number }) => void,
): Promise<void> {
  if (!isAbsolute(file)) throw new PcoccError(`dump file must be an absolute path: ${file}`);
  return withQmp(qmpSocket, async (qmp) => {
    const completed = qmp.waitEvent("DUMP_COMPLETED");
    completed.catch(() => undefined);
    await qmp.execute("dump-guest-memory", { paging: false, protocol: `file:${file}`, detach: true });
    for (;;) {
      const st = await qmp.execute<DumpStatus>("query-dump");
      onProgress?.({ done: st.completed, total: st.total });
      if (st.status === "completed") return;
      if (st.status === "failed") {
        const ev = await Promise.race([completed, new Promise<null>((r) => setTimeout(r, 500, null))]);
        const why = ev?.data?.error ? `: ${String(ev.data.error)}` : "";
        throw new PcoccError(`memory dump failed${why}`);
      }
      await Promise.race([completed, new Promise((r) => setTimeout(r, 200))]);
    }
  });
}
