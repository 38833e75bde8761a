import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AGENT_BOOTCMD, mergeAgentUserData } from "../../../src/agent/delivery.js";

describe("agent delivery in user-data", () => {
  it("puts the agent first in the user's own bootcmd and keeps everything else", async () => {
    const user = "#cloud-config\n# mine\nruncmd:\n  - echo hi\nbootcmd:\n  - echo early\nusers: [default]\n";
    const r = await mergeAgentUserData(user);
    expect(r.agent).toBe(true);
    expect(r.userData.startsWith("#cloud-config\n")).toBe(true);
    expect(r.userData).toContain("# mine");
    expect(parse(r.userData)).toEqual({
      runcmd: ["echo hi"],
      bootcmd: [AGENT_BOOTCMD, "echo early"],
      users: ["default"],
    });
  });

  it("gives a VM without user-data a cloud-config that only starts the agent", async () => {
    for (const text of ["", "#cloud-config\n"]) {
      const r = await mergeAgentUserData(text);
      expect(parse(r.userData)).toEqual({ bootcmd: [AGENT_BOOTCMD] });
    }
  });

  it("keeps scripts, other formats and odd cloud-configs byte for byte, without agent, and says why", async () => {
    for (const text of [
      "#!/bin/sh\necho hi\n",
      'Content-Type: multipart/mixed; boundary="x"\n',
      "#cloud-config\n- a\n",
      "#cloud-config\nbootcmd: echo\n",
      "#cloud-config\na: [\n",
    ]) {
      const r = await mergeAgentUserData(text);
      expect(r).toMatchObject({ userData: text, agent: false });
      expect(r.note).toMatch(/no guest agent/);
    }
  });
});
