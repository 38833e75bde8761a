import { describe, expect, it } from "vitest";
import { chooseAccelerator } from "../../../src/vm/accel.js";

const hw = { kvmDeviceUsable: true, kvmPvm: false, hardwareKvm: true };

describe("chooseAccelerator", () => {
  it("uses KVM only on real hardware KVM when left to auto", () => {
    expect(chooseAccelerator("auto", hw).accel).toBe("kvm");
    expect(chooseAccelerator("auto", { ...hw, kvmPvm: true })).toEqual({
      accel: "tcg",
      reason: "host KVM is kvm_pvm (much slower than TCG)",
    });
    expect(chooseAccelerator("auto", { ...hw, kvmDeviceUsable: false }).accel).toBe("tcg");
    expect(chooseAccelerator("auto", { ...hw, hardwareKvm: false }).accel).toBe("tcg");
  });

  it("lets the template force either accelerator", () => {
    expect(chooseAccelerator("kvm", { ...hw, kvmPvm: true }).accel).toBe("kvm");
    expect(chooseAccelerator("tcg", hw).accel).toBe("tcg");
  });
});
