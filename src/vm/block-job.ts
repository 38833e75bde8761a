import { PcoccError } from "../util/index.js";
import type { QmpClient, QmpEvent } from "./qmp.js";

export interface JobProgress {
  done: number;
  total: number;
}

interface BlockJobInfo {
  device: string;
  offset: number;
  len: number;
}

/**
 * Waits for block job `id` to end, reporting progress from `query-block-jobs`. Rejects on a job error or
 * cancellation; `signal` cancels the job in QEMU first.
 */
export async function waitBlockJob(
  qmp: QmpClient,
  id: string,
  opts: { onProgress?: (p: JobProgress) => void; signal?: AbortSignal; pollMs?: number } = {},
  ended: Promise<QmpEvent>,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const poll = async (): Promise<void> => {
    const jobs = await qmp.execute<BlockJobInfo[]>("query-block-jobs").catch(() => []);
    // the job may have ended while the query was in flight
    if (stopped) return;
    const job = jobs.find((j) => j.device === id);
    if (job) opts.onProgress?.({ done: job.offset, total: job.len });
    timer = setTimeout(() => void poll(), opts.pollMs ?? 200);
  };
  const onAbort = (): void => {
    void qmp.execute("block-job-cancel", { device: id, force: true }).catch(() => undefined);
  };
  opts.signal?.addEventListener("abort", onAbort);
  void poll();
  try {
    const ev = await ended;
    const data = ev.data ?? {};
    if (ev.event === "BLOCK_JOB_CANCELLED") throw new PcoccError(`block job ${id} was cancelled`);
    if (typeof data.error === "string") throw new PcoccError(`block job ${id} failed: ${data.error}`);
    const len = Number(data.len ?? 0);
    opts.onProgress?.({ done: Number(data.offset ?? len), total: len });
  } finally {
    stopped = true;
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** Subscribes (before the job is started) to the events that end block job `id`. */
export function blockJobEnded(qmp: QmpClient, id: string): Promise<QmpEvent> {
  return qmp.waitEvent(["BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED"], (ev) => ev.data?.device === id);
}
