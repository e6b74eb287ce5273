import { describe, expect, it } from "vitest";
import { assignableRoles, mayChange, navigation, SUPER_ADMIN, type Profile } from "./access";

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

  it("hides cloud accounts in a mode without them (federated)", () => {
    const federated = profile(["lifeboat.infra-admin"], ["cloud-accounts.view"], ["cluster-discovery"]);
    expect(labels(federated)).not.toContain("Cloud Accounts");
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
  it("offers the super admin role only to a super admin", () => {
    expect(assignableRoles(profile(["lifeboat.infra-admin"], []), roles)).toEqual(["lifeboat.app-user"]);
    expect(assignableRoles(profile([SUPER_ADMIN], []), roles)).toEqual(roles);
  });
});
