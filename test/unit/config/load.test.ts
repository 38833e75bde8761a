import { describe, expect, it } from "vitest";
import { expectOneIssue, issuesOf, load } from "./fixture.js";

const BATCH = `type: slurm
settings:
  etcd-servers: [etcd1]
  etcd-client-port: 2379
  etcd-protocol: http
  etcd-auth-type: password
`;

describe("shipped etc/", () => {
  it("is a valid configuration with the documented networks, resource sets and repositories", async () => {
    const config = await load();
    expect(config.batch.type).toBe("slurm");
    expect(config.batch.settings["etcd-auth-type"]).toBe("password");
    // etcd over TLS, the CA named (hole 8: passwords never in clear)
    expect(config.batch.settings["etcd-protocol"]).toBe("https");
    expect(config.batch.settings["etcd-ca-cert"]).toMatch(/^\/.+\.crt$/);
    const nat = config.networks["nat-rssh"];
    expect(nat?.type).toBe("ethernet");
    if (nat?.type !== "ethernet") throw new Error("unreachable");
    expect(nat.settings["network-layer"]).toBe("L3");
    expect(nat.settings["reverse-nat"]).toEqual({
      "vm-port": 22,
      "min-host-port": 60222,
      "max-host-port": 60322,
    });
    expect(nat.settings["datapath-type"]).toBe("system");
    const pv = config.networks.pv;
    expect(pv?.type === "ethernet" && pv.settings["network-layer"]).toBe("L2");
    expect(config.resourceSets.default).toEqual({ name: "default", networks: ["nat-rssh"], default: true });
    expect(config.resourceSets.cluster).toEqual({
      name: "cluster",
      networks: ["nat-rssh", "pv"],
      default: false,
    });
    expect(config.templates).toEqual({});
    expect(config.repos.map((r) => [r.name, r.path, r.scope])).toEqual([
      ["global", "/var/lib/pcocc/images", "system"],
      ["user", "%{homedir}/.pcocc/images", "system"],
    ]);
  });
});

describe("batch.yaml", () => {
  it("accepts a minimal document", async () => {
    const config = await load({ "batch.yaml": BATCH });
    expect(config.batch.settings["etcd-servers"]).toEqual(["etcd1"]);
  });
  it("rejects an unknown batch type", () =>
    expectOneIssue(
      { system: { "batch.yaml": BATCH.replace("slurm", "pbs") } },
      { file: "system:batch.yaml", line: 1, keyPath: "type", message: '"pbs" is not one of slurm, local' },
    ));
  it("rejects a port given as a string", () =>
    expectOneIssue(
      { system: { "batch.yaml": BATCH.replace("2379", '"2379"') } },
      {
        file: "system:batch.yaml",
        line: 4,
        keyPath: "settings.etcd-client-port",
        message: "expected number, got string",
      },
    ));
  it("rejects an unknown setting", () =>
    expectOneIssue(
      { system: { "batch.yaml": BATCH + "  etcd-timeout: 3\n" } },
      { file: "system:batch.yaml", line: 7, keyPath: "settings.etcd-timeout", message: "unknown key" },
    ));
  it("reports a missing required key at its parent", () =>
    expectOneIssue(
      { system: { "batch.yaml": BATCH.replace("  etcd-auth-type: password\n", "") } },
      {
        file: "system:batch.yaml",
        line: 2,
        keyPath: "settings.etcd-auth-type",
        message: "required key is missing",
      },
    ));
  it("talks to etcd over https unless told otherwise", async () => {
    const config = await load({ "batch.yaml": BATCH.replace("  etcd-protocol: http\n", "") });
    expect(config.batch.settings["etcd-protocol"]).toBe("https");
  });
  it("refuses a CA certificate with http, and a relative one", async () => {
    expect(await issuesOf({ "batch.yaml": BATCH + "  etcd-ca-cert: /etc/etcd/ca.crt\n" })).toMatchObject([
      {
        keyPath: "settings.etcd-ca-cert",
        message: "is only used with etcd-protocol https (got '/etc/etcd/ca.crt')",
      },
    ]);
    const https = BATCH.replace("etcd-protocol: http", "etcd-protocol: https");
    expect(await issuesOf({ "batch.yaml": https + "  etcd-ca-cert: ca.crt\n" })).toMatchObject([
      { keyPath: "settings.etcd-ca-cert", message: "must be an absolute path (got 'ca.crt')" },
    ]);
  });
  it("reports YAML syntax errors with their line", () =>
    expectOneIssue(
      { system: { "batch.yaml": "type: slurm\nsettings: a: b\n" } },
      { file: "system:batch.yaml", line: 2, keyPath: undefined, message: "YAML syntax" },
    ));
  it("rejects duplicate keys", async () => {
    const issues = await issuesOf({ "batch.yaml": BATCH + "type: local\n" });
    expect(issues[0]).toMatchObject({ file: "system:batch.yaml", line: 7 });
    expect(issues[0]?.message).toMatch(/unique/);
  });
  it("reports a missing required file", () =>
    expectOneIssue(
      { system: { "batch.yaml": null } },
      { file: "system:batch.yaml", line: undefined, keyPath: undefined, message: "required file is missing" },
    ));
  it("reports an empty file as missing its required keys", async () => {
    const issues = await issuesOf({ "batch.yaml": "# nothing yet\n" });
    expect(issues.map((i) => [i.keyPath, i.message])).toEqual([
      ["type", "required key is missing"],
      ["settings", "required key is missing"],
    ]);
  });
});

describe("resources.yaml", () => {
  it("rejects resource sets naming unknown networks", () =>
    expectOneIssue(
      { system: { "resources.yaml": "default:\n  networks: [nat-rssh, ib]\n  default: true\n" } },
      {
        file: "system:resources.yaml",
        line: 2,
        keyPath: "default.networks[1]",
        message: "unknown network 'ib' (not defined in networks.yaml)",
      },
    ));
  it("rejects a second default resource set", () =>
    expectOneIssue(
      {
        system: {
          "resources.yaml":
            "a:\n  networks: [nat-rssh]\n  default: true\nb:\n  networks: [pv]\n  default: true\n",
        },
      },
      {
        file: "system:resources.yaml",
        line: 6,
        keyPath: "b.default",
        message: "multiple default resource sets",
      },
    ));
  it("rejects a resource set without networks", () =>
    expectOneIssue(
      { system: { "resources.yaml": "a:\n  default: true\n" } },
      { file: "system:resources.yaml", line: 1, keyPath: "a.networks", message: "required key is missing" },
    ));
  it("rejects unknown keys and bad names", async () => {
    const issues = await issuesOf({ "resources.yaml": "9a:\n  networks: []\n  defaults: true\n" });
    expect(issues.map((i) => [i.line, i.keyPath, i.message])).toEqual([
      [1, "9a", "invalid resource set name (letter, then letters, digits, _ or -)"],
      [3, "9a.defaults", "unknown key"],
    ]);
  });
});

describe("repos.yaml", () => {
  it("puts user repositories first", async () => {
    const config = await load({}, { "repos.yaml": "repos:\n  - name: mine\n    path: /tmp/x\n" });
    expect(config.repos.map((r) => `${r.scope}:${r.name}`)).toEqual([
      "user:mine",
      "system:global",
      "system:user",
    ]);
  });
  it("rejects a repository defined twice", () =>
    expectOneIssue(
      { user: { "repos.yaml": "repos:\n  - name: global\n    path: /tmp/x\n" } },
      {
        file: "system:repos.yaml",
        line: 6,
        keyPath: "repos[0].name",
        message: "Duplicate repository: global",
      },
    ));
  it("rejects a mapping where a list is expected", () =>
    expectOneIssue(
      { system: { "repos.yaml": "repos:\n  name: a\n  path: /b\n" } },
      { file: "system:repos.yaml", line: 1, keyPath: "repos", message: "expected array, got object" },
    ));
  it("rejects unknown keys in an entry", () =>
    expectOneIssue(
      { system: { "repos.yaml": "repos:\n  - name: a\n    path: /b\n    writable: true\n" } },
      { file: "system:repos.yaml", line: 4, keyPath: "repos[0].writable", message: "unknown key" },
    ));
  it("accepts at most one cache", () =>
    expectOneIssue(
      {
        system: { "repos.yaml": "repos: []\ncache:\n  path: /a\n" },
        user: { "repos.yaml": "repos: []\ncache:\n  path: /b\n" },
      },
      { file: "system:repos.yaml", line: 2, keyPath: "cache", message: "only a single cache" },
    ));
});

describe("collecting problems", () => {
  it("reports every problem of every file in one error, file by file and top to bottom", async () => {
    const issues = await issuesOf({
      "batch.yaml": BATCH.replace("http", "ftp") + "  extra: 1\n",
      "resources.yaml": "default:\n  networks: [nope]\n  default: true\n",
      "templates.yaml": "_x: {}\n",
    });
    expect(issues.map((i) => `${i.file}:${i.line}`)).toEqual([
      "system:batch.yaml:5",
      "system:batch.yaml:7",
      "system:resources.yaml:2",
      "system:templates.yaml:1",
    ]);
  });
});
