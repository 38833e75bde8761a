import { PcoccError } from "../util/index.js";

/**
 * Runs `work` with a signal that SIGINT/SIGTERM abort, so it can undo what it started (a staging
 * directory, a temporary file, a block job) instead of the process dying half-way. An interrupted run
 * ends with `pcocc: <what> interrupted` and status 130, as a shell reports Ctrl-C.
 */
export async function interruptible<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await work(abort.signal);
  } catch (err) {
    if (abort.signal.aborted) throw new PcoccError(`${what} interrupted`, { exitCode: 130, cause: err });
    throw err;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
