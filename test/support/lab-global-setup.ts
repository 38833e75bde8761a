import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labDown, labStatus, labUp } from "../../src/lab/index.js";

/** Test runs using the lab right now (several may share the machine's one lab): one file per runner pid. */
const RUNS = "/run/pcocc-lab.test-runs";

function otherLiveRuns(): number[] {
  let entries: string[] = [];
  try {
    entries = readdirSync(RUNS);
  } catch {
    return [];
  }
  return entries
    .map(Number)
    .filter((pid) => pid !== process.pid && Number.isInteger(pid) && pid > 0)
    .filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        rmSync(join(RUNS, String(pid)), { force: true });
        return false;
      }
    });
}

/**
 * Brings the shared lab (SLURM + etcd + per-node OVS; guest images are added by the tests that need
 * them) up once for the integration project. At the end it is taken down only if it was down before the
 * run and no other test run is using it.
 */
export default async function setup(): Promise<() => Promise<void>> {
  mkdirSync(RUNS, { recursive: true });
  const wasUp = (await labStatus()) !== null || otherLiveRuns().length > 0;
  writeFileSync(join(RUNS, String(process.pid)), "");
  await labUp({ images: false });
  return async () => {
    rmSync(join(RUNS, String(process.pid)), { force: true });
    if (!wasUp && otherLiveRuns().length === 0) await labDown();
  };
}
