import { describe, expect, it } from "vitest";
import { expandNodeList, expandTasksPerNode, jobFromEnv } from "../../../src/net/job-env.js";

const env = (over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
  SLURM_JOB_ID: "42",
  SLURM_JOB_UID: "1001",
  SLURM_JOB_USER: "alice",
  SLURM_JOB_NODELIST: "node[1-2]",
  SLURM_NODEID: "1",
  SLURM_TASKS_PER_NODE: "2(x2)",
  SPANK_PCOCC_SETUP: "default:4",
  ...over,
});

describe("SPANK environment of setup create/delete", () => {
  it("expands SLURM node lists and task counts", () => {
    expect(expandNodeList("node[1-3,07-08],gpu1")).toEqual([
      "node1",
      "node2",
      "node3",
      "node07",
      "node08",
      "gpu1",
    ]);
    expect(expandNodeList("a[1-2]b")).toEqual(["a1b", "a2b"]);
    expect(expandTasksPerNode("2(x3),1")).toEqual([2, 2, 2, 1]);
  });

  it("reads a valid job", () => {
    expect(jobFromEnv(env(), "create")).toEqual({
      jobId: 42,
      uid: 1001,
      user: "alice",
      nodes: ["node1", "node2"],
      nodeRank: 1,
      vmsPerNode: [2, 2],
      resourceDefinition: "default:4",
      requestCred: undefined,
    });
    expect(jobFromEnv(env({ SLURM_STEP_TASKS_PER_NODE: "3,1" }), "create").vmsPerNode).toEqual([3, 1]);
    expect(
      jobFromEnv(env({ SLURM_TASKS_PER_NODE: undefined, SPANK_PCOCC_SETUP: undefined }), "delete").jobId,
    ).toBe(42);
  });

  it.each([
    [{ SLURM_JOB_ID: "42; rm -rf /" }, /SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_ID: "-1" }, /SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_ID: "042" }, /SLURM_JOB_ID: invalid value/],
    [{ SLURM_JOB_UID: "0" }, /refusing to set up a job for root/],
    [{ SLURM_JOB_USER: "../root" }, /invalid user name/],
    [{ SLURM_JOB_USER: undefined }, /SLURM_JOB_USER is not set/],
    [{ SLURM_JOB_NODELIST: "node[1-2" }, /invalid node list/],
    [{ SLURM_JOB_NODELIST: "node[2-1]" }, /invalid range/],
    [{ SLURM_JOB_NODELIST: "node[1-999999]" }, /invalid range/],
    [{ SLURM_JOB_NODELIST: "no/de" }, /invalid node name/],
    [{ SLURM_JOB_NODELIST: "n1,n1" }, /names a node twice/],
    [{ SLURM_NODEID: "2" }, /SLURM_NODEID 2 is not in SLURM_JOB_NODELIST/],
    [{ SLURM_TASKS_PER_NODE: "2(x3)" }, /lists 3 nodes but SLURM_JOB_NODELIST has 2/],
    [{ SLURM_TASKS_PER_NODE: "two" }, /invalid tasks per node/],
    [{ SPANK_PCOCC_SETUP: "" }, /SPANK_PCOCC_SETUP is not set/],
    [{ SPANK_PCOCC_REQUEST_CRED: "secret" }, /invalid credential/],
  ])("rejects hostile input %o", (over, message) => {
    expect(() => jobFromEnv(env(over), "create")).toThrow(message);
  });
});
