import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { nodeExec, userExec } from "../../../src/lab/index.js";
import type { LabInfo } from "../../../src/lab/index.js";
import { run } from "../../../src/lab/procs.js";
import { useLab } from "../../support/lab.js";

let lab: LabInfo;
let password: string;
beforeAll(async () => {
  lab = await useLab({ images: false });
  password = readFileSync(lab.etcd.rootPasswordFile, "utf8").trim();
});

const env = () => ({
  PATH: "/usr/bin:/bin",
  ETCDCTL_API: "3",
  ETCDCTL_ENDPOINTS: lab.etcd.endpoints.join(","),
});

describe("lab etcd", () => {
  it("refuses an unauthenticated read", async () => {
    const r = await run(["etcdctl", "get", "/pcocc"], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("user name is empty");
  });

  it("refuses a wrong root password", async () => {
    const r = await run(["etcdctl", "--user", "root:not-the-password", "get", "/pcocc"], { env: env() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/authentication failed/);
  });

  it("accepts the root credentials from the root-only password file", async () => {
    const key = `/lab-test/${process.pid}`;
    const put = await run(["etcdctl", "--user", `root:${password}`, "put", key, "hello"], { env: env() });
    expect(put.code, put.stderr).toBe(0);
    const get = await run(["etcdctl", "--user", `root:${password}`, "get", "--print-value-only", key], {
      env: env(),
    });
    expect(get.stdout.trim()).toBe("hello");
    await run(["etcdctl", "--user", `root:${password}`, "del", key], { env: env() });
  });

  it("keeps the root password file root-only", async () => {
    const r = await userExec(lab, ["cat", lab.etcd.rootPasswordFile]);
    expect(r.code).not.toBe(0);
  });

  it("is reachable with credentials from inside every node", async () => {
    for (const node of lab.nodes) {
      const r = await nodeExec(node, ["etcdctl", "--user", `root:${password}`, "endpoint", "health"], {
        env: env(),
      });
      expect(r.code, r.stderr).toBe(0);
    }
  });
});
