import { labDown, labStatus, labUp } from "../../src/lab/index.js";

/**
 * Brings the shared lab (SLURM + etcd + per-node OVS; guest images are added by the tests that need
 * them) up once for the integration project. At the end it is left up only if it was up before the run.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const wasUp = (await labStatus()) !== null;
  await labUp({ images: false });
  return async () => {
    if (!wasUp) await labDown();
  };
}
