import { NODE_LOG_DIR, setupLogger } from "../util/index.js";

/**
 * Runs one `pcocc internal setup` action and writes its line to /var/log/pcocc/setup.log: the phase, what
 * the action filled into `facts` (job, node rank, VMs), how long it took and, if it failed, why. A log that
 * cannot be written costs a warning, never the setup.
 */
export async function loggedSetupPhase(
  phase: string,
  run: (facts: Record<string, unknown>) => Promise<void>,
  dir = NODE_LOG_DIR,
): Promise<void> {
  const logger = await setupLogger(dir).catch((err: Error) => {
    console.error(`pcocc: no setup log: ${err.message}`);
    return undefined;
  });
  const facts: Record<string, unknown> = {};
  const start = Date.now();
  try {
    await run(facts);
    logger?.info({ phase, ...facts, ms: Date.now() - start }, `setup ${phase} done`);
  } catch (err) {
    logger?.error(
      { phase, ...facts, ms: Date.now() - start, error: (err as Error).message },
      `setup ${phase} failed`,
    );
    throw err;
  } finally {
    logger?.flush();
  }
}
