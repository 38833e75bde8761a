import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createJobStateDir, removeJobStateDir } from "../../../src/vm/index.js";

// under /run, not /tmp: every component of the path must be root-owned and writable only by root
const base = mkdtempSync("/run/pcocc-job-state-test-");
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("job state directories", () => {
  it("makes a root-only pcocc run directory searchable, so the job's user reaches their VM state", async () => {
    const runDir = join(base, "pcocc");
    mkdirSync(runDir);
    chmodSync(runDir, 0o700);
    const dir = await createJobStateDir({ jobId: 7, uid: 4242, gid: 4242 }, join(runDir, "vm-state"));
    expect(statSync(runDir).mode & 0o777).toBe(0o711);
    expect(statSync(join(runDir, "vm-state")).mode & 0o777).toBe(0o755);
    const st = statSync(dir);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4242, 4242, 0o700]);
    expect(await removeJobStateDir(7, join(runDir, "vm-state"))).toBe(true);
  });
});
