import { access, constants } from "node:fs/promises";

export type AcceleratorChoice = "kvm" | "tcg";

export interface AcceleratorDecision {
  accel: AcceleratorChoice;
  reason: string;
}

/** Facts about the host that decide the accelerator; gathered by `probeAcceleratorHost`. */
export interface AcceleratorHost {
  kvmDeviceUsable: boolean;
  /** `kvm_pvm` (KVM on top of a VM without nested virtualisation) runs guests hundreds of times slower than TCG. */
  kvmPvm: boolean;
  hardwareKvm: boolean;
}

export async function probeAcceleratorHost(): Promise<AcceleratorHost> {
  const exists = async (p: string, mode = constants.F_OK): Promise<boolean> =>
    access(p, mode).then(
      () => true,
      () => false,
    );
  const [kvmDeviceUsable, kvmPvm, intel, amd] = await Promise.all([
    exists("/dev/kvm", constants.R_OK | constants.W_OK),
    exists("/sys/module/kvm_pvm"),
    exists("/sys/module/kvm_intel"),
    exists("/sys/module/kvm_amd"),
  ]);
  return { kvmDeviceUsable, kvmPvm, hardwareKvm: intel || amd };
}

/** Pure decision: the template's `accelerator` wins, `auto` uses KVM only when it is real hardware KVM. */
export function chooseAccelerator(
  preference: "auto" | "kvm" | "tcg",
  host: AcceleratorHost,
): AcceleratorDecision {
  if (preference === "tcg") return { accel: "tcg", reason: "forced by template (accelerator: tcg)" };
  if (preference === "kvm") return { accel: "kvm", reason: "forced by template (accelerator: kvm)" };
  if (!host.kvmDeviceUsable) return { accel: "tcg", reason: "/dev/kvm is not usable" };
  if (host.kvmPvm) return { accel: "tcg", reason: "host KVM is kvm_pvm (much slower than TCG)" };
  if (!host.hardwareKvm) return { accel: "tcg", reason: "no kvm_intel/kvm_amd module loaded" };
  return { accel: "kvm", reason: "/dev/kvm usable with hardware virtualisation" };
}
