import { describe, expect, it } from "vitest";
import { APP_ADMIN, assignableRoles, mayChange, navigation, offers, SUPER_ADMIN, type Profile } from "./access";

const profile = (roles: string[], permissions: string[], features = ["cloud-accounts", "virtual-machines"]): Profile => ({
  subject: "alice",
  username: "alice",
  groups: [],
  roles,
  permissions,
  mode: "classic",
  features,
});

const labels = (p: Profile) => navigation(p).map((e) => e.label);

describe("navigation", () => {
  it("offers only the profile to a user without a role", () => {
    expect(labels(profile([], []))).toEqual(["User Profile"]);
  });

  it("shows a settings page only with its view permission, and user management only with users-groups.view", () => {
    const appAdmin = labels(profile(["lifeboat.app-admin"], ["rules.view", "backup-locations.view"]));
    expect(appAdmin).toContain("Rules");
    expect(appAdmin).toContain("Backup Locations");
    expect(appAdmin).not.toContain("Schedule Policies");
    expect(appAdmin).not.toContain("User Management");
    expect(labels(profile(["lifeboat.infra-admin"], ["users-groups.view"]))).toContain("User Management");
  });

  it("shows notifications to every role, the app user too, and not to a user without a role", () => {
    expect(labels(profile(["lifeboat.app-user"], []))).toContain("Notifications");
    expect(navigation(profile(["lifeboat.app-user"], [])).find((e) => e.label === "Notifications")?.group).toBe("Settings");
    expect(labels(profile([], []))).not.toContain("Notifications");
  });

  it("hides cloud accounts in a mode without them (federated)", () => {
    const federated = profile(["lifeboat.infra-admin"], ["cloud-accounts.view"], ["cluster-discovery"]);
    expect(labels(federated)).not.toContain("Cloud Accounts");
  });

  it("shows cluster discovery to super admins of federated mode only", () => {
    const permissions = ["cloud-accounts.view"];
    const federatedAdmin = labels(profile([SUPER_ADMIN], permissions, ["cluster-discovery"]));
    expect(federatedAdmin).toContain("Cluster Discovery");
    expect(federatedAdmin).not.toContain("Cloud Accounts");
    expect(labels(profile([SUPER_ADMIN], permissions))).not.toContain("Cluster Discovery");
    expect(labels(profile(["lifeboat.infra-admin"], permissions, ["cluster-discovery"]))).not.toContain("Cluster Discovery");
  });
});

describe("mayChange", () => {
  const infra = profile(["lifeboat.infra-admin"], ["rules.delete"]);
  it("lets the owner change with the permission, and nobody without it", () => {
    expect(mayChange(infra, "rules", "delete", "alice")).toBe(true);
    expect(mayChange(infra, "rules", "edit", "alice")).toBe(false);
  });
  it("never lets a non-owner change a shared object, unless a super admin", () => {
    expect(mayChange(infra, "rules", "delete", "bob")).toBe(false);
    expect(mayChange(profile([SUPER_ADMIN], ["rules.delete"]), "rules", "delete", "bob")).toBe(true);
  });
});

describe("assignableRoles", () => {
  const roles = [SUPER_ADMIN, "lifeboat.app-user"];
  it("offers the app admin role only in classic mode", () => {
    const all = [SUPER_ADMIN, APP_ADMIN, "lifeboat.app-user"];
    expect(assignableRoles(profile([SUPER_ADMIN], []), all)).toEqual(all);
    expect(assignableRoles(profile([SUPER_ADMIN], [], ["cluster-discovery"]), all)).toEqual([SUPER_ADMIN, "lifeboat.app-user"]);
  });
  it("offers the super admin role only to a super admin", () => {
    expect(assignableRoles(profile(["lifeboat.infra-admin"], []), roles)).toEqual(["lifeboat.app-user"]);
    expect(assignableRoles(profile([SUPER_ADMIN], []), roles)).toEqual(roles);
  });
});

describe("offers", () => {
  it("follows the features /me lists for the mode", () => {
    const classic = profile(["lifeboat.app-user"], []);
    const federated = profile(["lifeboat.app-user"], [], ["cluster-discovery"]);
    expect([offers(classic, "virtual-machines"), offers(classic, "cloud-accounts"), offers(classic, "cluster-discovery")]).toEqual([true, true, false]);
    expect([offers(federated, "virtual-machines"), offers(federated, "cloud-accounts"), offers(federated, "cluster-discovery")]).toEqual([false, false, true]);
  });
});
