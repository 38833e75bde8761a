import { describe, expect, it } from "vitest";
import {
  decodeLaunchRequest,
  decodeLauncherReport,
  decodeTaskEnv,
  encodeLaunchRequest,
  encodeLauncherReport,
  encodeTaskEnv,
  TASK_HANDOVER_ENV,
  withoutTaskHandover,
  type LaunchRequest,
  type TaskHandover,
} from "../../../src/job/index.js";

// values a flag parser would misread: flags, '=', spaces, quotes, newlines, non-ASCII
const awkward = ["-v", "--wait", "a=b=c", "two words", `it's "x"`, "line1\nline2", "é/ü", "--definition=x"];

describe("launch request (front → launcher argv)", () => {
  it("round-trips every option, awkward values included", () => {
    const full: LaunchRequest = {
      definition: "tpl:2,other:1",
      script: awkward[0],
      wait: true,
      userData: awkward[3],
      mounts: awkward,
      images: ["other=img@3", "-v"],
      restartDir: awkward[5],
      reportFile: "/tmp/pcocc-alloc-x/launcher.json",
    };
    expect(decodeLaunchRequest(encodeLaunchRequest(full))).toEqual(full);
    const minimal: LaunchRequest = { definition: "-v", mounts: [], images: [] };
    expect(decodeLaunchRequest(encodeLaunchRequest(minimal))).toEqual(minimal);
    for (const script of awkward) {
      const r: LaunchRequest = { definition: "t", script, mounts: [], images: [] };
      expect(decodeLaunchRequest(encodeLaunchRequest(r))).toEqual(r);
    }
  });
  it("writes every value attached to its flag", () => {
    expect(encodeLaunchRequest({ definition: "t", script: "-v", mounts: ["m"], images: [] })).toEqual([
      "--alloc-script=-v",
      "--mount=m",
      "--definition=t",
    ]);
  });
  it("refuses anything else, naming the argument and its value", () => {
    const d = (argv: string[]) => () => decodeLaunchRequest(argv);
    expect(d(["-E", "x", "--definition=t"])).toThrow(/unknown argument '-E'/);
    expect(d(["--definition=t", "--shell=/bin/sh"])).toThrow(/unknown argument '--shell=\/bin\/sh'/);
    expect(d(["--definition=t", "--alloc-script"])).toThrow(/'--alloc-script' needs a value/);
    expect(d(["--definition=t", "--definition=u"])).toThrow(/--definition given twice/);
    expect(d(["--mount=a"])).toThrow(/argument --definition: Required/);
    expect(d(["--definition="])).toThrow(/argument --definition: empty, got '""'/);
    expect(d(["--definition=t", "--wait=yes"])).toThrow(/argument --wait: .*got '"yes"'/);
    expect(d(["--definition=t", "--mount="])).toThrow(/argument --mount: empty/);
  });
});

describe("task hand-over (launcher → per-VM task env)", () => {
  it("round-trips through one environment variable, which the front process does not get", () => {
    const full: TaskHandover = {
      definition: "tpl:2",
      userData: "/home/u/ud.yaml",
      mounts: awkward,
      imageOverrides: { tpl: "user:img@2", "-v": "x" },
      restartDir: "/home/u/ckpt dir",
    };
    const env = { PATH: "/bin", ...encodeTaskEnv(full) };
    expect(Object.keys(encodeTaskEnv(full))).toEqual([TASK_HANDOVER_ENV]);
    expect(decodeTaskEnv(env)).toEqual(full);
    const minimal: TaskHandover = { definition: "t", mounts: [], imageOverrides: {} };
    expect(decodeTaskEnv(encodeTaskEnv(minimal))).toEqual(minimal);
    expect(withoutTaskHandover(env)).toEqual({ PATH: "/bin" });
  });
  it("refuses a missing, malformed or mistyped hand-over, naming the variable and value", () => {
    const d = (value?: string) => () =>
      decodeTaskEnv(value === undefined ? {} : { [TASK_HANDOVER_ENV]: value });
    expect(d()).toThrow(`${TASK_HANDOVER_ENV} is not set`);
    expect(d("{oops")).toThrow(`${TASK_HANDOVER_ENV}: invalid JSON`);
    expect(d('{"definition":"t","mounts":"a=/x","imageOverrides":{}}')).toThrow(
      `${TASK_HANDOVER_ENV}.mounts: Expected array, received string, got '"a=/x"'`,
    );
    expect(d('{"definition":"t","mounts":[],"imageOverrides":{"tpl":7}}')).toThrow(
      `${TASK_HANDOVER_ENV}.imageOverrides.tpl: Expected string, received number, got '7'`,
    );
    expect(d('{"definition":"t","mounts":[],"imageOverrides":{},"shell":"/bin/sh"}')).toThrow(/shell/);
  });
});

describe("launcher report (launcher → pcocc alloc)", () => {
  it("round-trips and refuses what the launcher does not write", () => {
    const r = { launcher: { pid: 10, start: 5 }, jobId: 3, front: { pid: 11, start: 6 }, status: 143 };
    expect(decodeLauncherReport(encodeLauncherReport(r), "f")).toEqual(r);
    expect(() => decodeLauncherReport('{"launcher":{"pid":-1,"start":0}}', "f")).toThrow(
      /^f: launcher: pid: .*got '-1'/,
    );
    expect(() => decodeLauncherReport("", "f")).toThrow(/^f: invalid JSON/);
  });
});
