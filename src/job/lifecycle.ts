import type { PcoccConfig } from "../config/index.js";
import {
  beginJob,
  endJob,
  ensureUserRole,
  joinJob,
  openKeystore,
  PhaseClock,
  putHostState,
  type JobHandle,
  type Keystore,
} from "../keystore/index.js";
import type { SetupCreateJob, SetupIdentity } from "./setup-env.js";

/**
 * The root side of a job's life in the keystore, per node: `setup create` begins the job (node rank 0: the
 * leases, and the user's etcd role when they asked for one) or joins it (other nodes), and publishes this
 * host's state around the node's own setup; `setup delete` ends it on rank 0 after the node's teardown.
 */

export interface LifecycleOptions {
  /** An open root keystore (tests); otherwise one is opened from the config and closed at the end. */
  keystore?: Keystore;
}

async function withRootKeystore<T>(
  config: PcoccConfig,
  opts: LifecycleOptions,
  fn: (ks: Keystore) => Promise<T>,
): Promise<T> {
  const ks = opts.keystore ?? (await openKeystore({ config, as: "root" }));
  try {
    return await fn(ks);
  } finally {
    if (!opts.keystore) await ks.close();
  }
}

/** `setup create` on one node: `setUpNode` builds the node's share (its networks) under the job's handle. */
export async function beginJobOnNode(
  config: PcoccConfig,
  job: SetupCreateJob,
  setUpNode: (handle: JobHandle) => Promise<void>,
  opts: LifecycleOptions = {},
): Promise<void> {
  const clock = new PhaseClock();
  await withRootKeystore(config, opts, async (ks) => {
    let handle: JobHandle;
    if (job.nodeRank === 0) {
      handle = await beginJob(ks, { jobId: job.jobId, user: job.user });
      if (job.requestCred) await ensureUserRole(ks, job.user, job.requestCred);
    } else handle = await joinJob(ks, { jobId: job.jobId });
    clock.mark("keystore");
    // the network does not wait for this state to be written, only "complete" does (same key, in order)
    const announced = putHostState(handle, job.nodeRank, "network-config", { phases: { ...clock.phases } });
    try {
      await setUpNode(handle);
      clock.mark("network");
      await announced;
    } catch (err) {
      await announced.catch(() => undefined);
      await putHostState(handle, job.nodeRank, "failed", {
        desc: `failed to setup network: ${(err as Error).message}`,
        phases: clock.phases,
      }).catch(() => undefined);
      throw err;
    }
    await putHostState(handle, job.nodeRank, "complete", { phases: clock.phases });
  });
}

/** `setup delete` on one node: `tearDownNode` removes the node's share, then rank 0 ends the job's keys. */
export async function endJobOnNode(
  config: PcoccConfig,
  job: Pick<SetupIdentity, "jobId" | "nodeRank">,
  tearDownNode: (ks: Keystore) => Promise<void>,
  opts: LifecycleOptions = {},
): Promise<void> {
  await withRootKeystore(config, opts, async (ks) => {
    await tearDownNode(ks);
    if (job.nodeRank === 0) await endJob(ks, job.jobId);
  });
}
