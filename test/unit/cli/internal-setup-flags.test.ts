import { describe, expect, it } from "vitest";
import { manualDeleteJob } from "../../../src/cli/commands/internal-setup.js";

describe("pcocc internal setup -j/-F/--nolock", () => {
  it("-j names the job to delete, outside any SLURM step", () => {
    expect(manualDeleteJob("delete", { jobid: "1234" }, {})).toBe(1234);
    expect(manualDeleteJob("delete", { jobid: "1234", force: true }, {})).toBe(1234);
    expect(manualDeleteJob("delete", {}, { SLURM_JOB_ID: "7" })).toBeUndefined();
    expect(manualDeleteJob("create", {}, {})).toBeUndefined();
  });
  it("is refused where slurmstepd gives the job (a SPANK environment)", () => {
    for (const env of [{ SLURM_JOB_ID: "1234" }, { SPANK_PCOCC_SETUP: "default:2" }])
      expect(() => manualDeleteJob("delete", { jobid: "1234" }, env)).toThrow(
        "-j/--jobid is for manual cleanup outside a SLURM step",
      );
  });
  it("only with delete, -F only with -j, and job ids are plain numbers", () => {
    for (const action of ["init", "cleanup", "create"])
      expect(() => manualDeleteJob(action, { jobid: "1" }, {})).toThrow(
        "-j/--jobid and -F/--force can only be used with delete",
      );
    expect(() => manualDeleteJob("create", { force: true }, {})).toThrow("can only be used with delete");
    expect(() => manualDeleteJob("delete", { force: true }, {})).toThrow("-F/--force needs -j/--jobid");
    for (const id of ["-1", "1e3", "0x10", "../1", "4294967295", ""])
      expect(() => manualDeleteJob("delete", { jobid: id }, {})).toThrow(`invalid job id '${id}'`);
  });
  it("wrong combinations are usage errors (exit 2), refusals exit 255", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { exitCode?: number }).exitCode;
      }
      return undefined;
    };
    expect(code(() => manualDeleteJob("init", { jobid: "1" }, {}))).toBe(2);
    expect(code(() => manualDeleteJob("delete", { force: true }, {}))).toBe(2);
    expect(code(() => manualDeleteJob("delete", { jobid: "x" }, {}))).toBe(255);
    expect(code(() => manualDeleteJob("delete", { jobid: "1" }, { SLURM_JOB_ID: "1" }))).toBe(255);
  });
  it("--nolock: an administrator's command outside a SLURM step, refused inside one", () => {
    expect(manualDeleteJob("cleanup", { nolock: true }, {})).toBeUndefined();
    expect(manualDeleteJob("delete", { nolock: true, jobid: "12" }, {})).toBe(12);
    for (const env of [{ SLURM_JOB_ID: "12" }, { SPANK_PCOCC_SETUP: "default:2" }])
      for (const action of ["create", "delete", "init"])
        expect(() => manualDeleteJob(action, { nolock: true }, env)).toThrow(
          "--nolock is for an administrator's command outside a SLURM step",
        );
  });
});
