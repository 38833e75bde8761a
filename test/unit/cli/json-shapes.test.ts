import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { clusterRowJson, slurmSeconds } from "../../../src/cli/ps-json.js";
import { loadConfig } from "../../../src/config/index.js";
import { importImage } from "../../../src/image/index.js";
import { makeConfigDirs } from "../config/fixture.js";
import { runPcocc } from "./run-pcocc.js";

vi.setConfig({ testTimeout: 60_000 });

const work = mkdtempSync(join(tmpdir(), "pcocc-json-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("template show --json", () => {
  it("gives the booted revision as numbers and null where no template sets a value", async () => {
    const repo = join(work, "repo");
    const dirs = makeConfigDirs(
      { "repos.yaml": `repos:\n  - name: mine\n    path: ${repo}\n` },
      { "templates.yaml": "withimg:\n  image: mine:disk\nnoimg:\n  description: none\n" },
    );
    const disk = join(work, "disk.raw");
    writeFileSync(disk, Buffer.alloc(1 << 20));
    const before = Math.floor(Date.now() / 1000);
    await importImage(await loadConfig({ ...dirs, cache: false }), disk, "mine:disk");
    const show = async (tpl: string) => {
      const r = await runPcocc(["template", "show", tpl, "--json"], { ...dirs, cacheDir: work });
      expect(r.stderr).toBe("");
      return (JSON.parse(r.stdout) as { attributes: Array<{ attribute: string }> }).attributes;
    };
    const revision = (await show("withimg")).find((a) => a.attribute === "image-revision");
    expect(revision).toEqual({
      attribute: "image-revision",
      inherited: false,
      from: null,
      value: { revision: 0, timestamp: expect.any(Number) as number },
    });
    expect((revision as unknown as { value: { timestamp: number } }).value.timestamp).toBeGreaterThanOrEqual(
      before,
    );
    const none = await show("noimg");
    expect(none).toContainEqual({ attribute: "image-revision", inherited: false, from: null, value: null });
    expect(none).toContainEqual({
      attribute: "resource-set",
      inherited: false,
      from: null,
      value: "default",
    });
    // the table keeps pcocc's display
    const table = await runPcocc(["template", "show", "withimg"], { ...dirs, cacheDir: work });
    expect(table.stdout).toMatch(/^image-revision +No +0 \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/m);
  });
});

describe("ps --json", () => {
  it("reads squeue's durations as seconds, null when there is no limit", () => {
    expect(slurmSeconds("0:05")).toBe(5);
    expect(slurmSeconds("1:02:03")).toBe(3723);
    expect(slurmSeconds("2-01:00:00")).toBe(2 * 86400 + 3600);
    expect(slurmSeconds("UNLIMITED")).toBeNull();
    expect(slurmSeconds("INVALID")).toBeNull();
  });
  it("replaces the display strings of a row by numbers", () => {
    const row = {
      id: 7,
      name: "pcocc",
      user: "alice",
      partition: "p",
      nodes: 2,
      nodeList: "n[1-2]",
      duration: "1:00",
      timeLimit: "UNLIMITED",
      state: "RUNNING",
    };
    expect(clusterRowJson(row)).toEqual({
      id: 7,
      name: "pcocc",
      user: "alice",
      partition: "p",
      nodes: 2,
      nodeList: "n[1-2]",
      state: "RUNNING",
      elapsedSeconds: 60,
      timeLimitSeconds: null,
    });
  });
});
