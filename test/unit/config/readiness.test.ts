import { describe, expect, it } from "vitest";
import { parseReadinessCheck, resolveTemplate } from "../../../src/config/index.js";
import { expectOneIssue, load } from "./fixture.js";

describe("readiness checks", () => {
  it("parses ssh, tcp:PORT, cloud-init and exec:COMMAND", () => {
    expect(parseReadinessCheck("ssh")).toEqual({ kind: "tcp", port: 22, label: "ssh" });
    expect(parseReadinessCheck("tcp:6818")).toEqual({ kind: "tcp", port: 6818, label: "tcp:6818" });
    expect(parseReadinessCheck("cloud-init")).toEqual({ kind: "cloud-init", label: "cloud-init" });
    expect(parseReadinessCheck("exec: test -e /x")).toMatchObject({ kind: "exec", command: "test -e /x" });
    for (const bad of ["tcp:0", "tcp:65536", "tcp:http", "exec:", "ping", "tcp:"])
      expect(parseReadinessCheck(bad)).toHaveProperty("error");
  });

  it("resolves a template's checks and timeout, inherited like any setting", async () => {
    const config = await load(
      {},
      {
        "templates.yaml":
          "base:\n  readiness: [ssh, 'tcp:6818']\n  readiness-timeout: 30\nchild:\n  inherits: base\nplain: {}\n",
      },
    );
    expect(resolveTemplate(config, "child").settings.readiness).toEqual(["ssh", "tcp:6818"]);
    expect(resolveTemplate(config, "child").settings["readiness-timeout"]).toBe(30);
    expect(resolveTemplate(config, "plain").settings.readiness).toEqual([]);
  });

  it("is a config error with file, line and value for an unknown check or a bad port", async () => {
    await expectOneIssue(
      { user: { "templates.yaml": "a:\n  readiness:\n    - ssh\n    - 'tcp:99999'\n" } },
      { file: "user:templates.yaml", line: 4, keyPath: "a.readiness[1]", message: "invalid port '99999'" },
    );
    await expectOneIssue(
      { user: { "templates.yaml": "a:\n  readiness: [pong]\n" } },
      {
        file: "user:templates.yaml",
        line: 2,
        keyPath: "a.readiness[0]",
        message: "unknown readiness check 'pong'",
      },
    );
  });
});
