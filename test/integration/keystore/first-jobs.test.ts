import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labUp, type LabInfo } from "../../../src/lab/index.js";
import {
  etcdRoot,
  expectJobGone,
  expectNodesClean,
  expectNoJobKeys,
  initNodes,
  jobIdFrom,
  prepareUser,
  snapshotAll,
  spawnPcocc,
  TINY,
  type NodeSnapshot,
} from "../e2e/support.js";

const TRIES = 4;

/**
 * Fault 13: on a user's first job, node 0's setup creates the user's etcd role and user (several auth
 * changes) while the other nodes' setups read the job's records; a read that raced a change was refused
 * ("revision of auth store is old") and the job failed with an internal error, 2 times in 4 on 3 nodes.
 * Each try here is a first job: the user is removed from etcd before it.
 */
describe("first jobs on a fresh 3-node lab", () => {
  let info: LabInfo;
  let baseline: NodeSnapshot[];

  beforeAll(async () => {
    info = await labUp({ nodes: 3 });
    await prepareUser(info);
    await initNodes(info);
    baseline = await snapshotAll(info);
  });

  afterAll(async () => {
    if (info) await expectNodesClean(info, baseline);
  });

  it(`all ${TRIES} first jobs of a user on 3 nodes start, and none shows an internal error`, async () => {
    const name = info.user.name;
    for (let i = 0; i < TRIES; i++) {
      // a user etcd has never seen: node 0's setup makes the role and the user again
      await etcdRoot(info, ["user", "delete", name]);
      await etcdRoot(info, ["role", "delete", `${name}-pcocc`]);
      expect((await etcdRoot(info, ["user", "list"])).stdout.split("\n")).not.toContain(name);

      const run = spawnPcocc(info, ["alloc", "-N3", "-c1", "-E", "/bin/true", `${TINY}:3`]);
      const code = await run.exited;
      const transcript = `try ${i + 1}:\nstdout:\n${run.out.stdout}\nstderr:\n${run.out.stderr}`;
      expect(run.out.stderr, transcript).not.toMatch(/internal error|revision of auth store/);
      expect(code, transcript).toBe(0);
      expect(run.out.stderr, transcript).toMatch(/configuring hosts 3\/3/);
      const jobId = jobIdFrom(run.out.stderr);
      expect(jobId, transcript).toBeDefined();
      await expectJobGone(info, jobId!);
      await expectNoJobKeys(info, jobId!);
    }
  });
});
