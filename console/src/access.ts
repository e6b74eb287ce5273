// What the signed-in user may see and do, read from `GET /api/v1/me`. The console only hides
// what the API would refuse; the API stays the authority and its refusals are shown as sent.
import type { Schemas } from "./api/client";

export type Profile = Schemas["ProfileRead"];
export type RbacKind = "cloud-accounts" | "backup-locations" | "schedule-policies" | "rules" | "roles" | "users-groups";
export type Action = "create" | "view" | "edit" | "delete";

// The built-in role that manages every owner's objects (seeds/001); /me names it.
export const SUPER_ADMIN = "lifeboat.super-admin";
// The built-in role of classic mode only: federated mode has no app admins (seeds/001).
export const APP_ADMIN = "lifeboat.app-admin";

/** What the API's mode offers, as /me lists it: classic has virtual machines and cloud
 * accounts, federated has cluster discovery. Pages follow it, never the mode's name. */
export type Feature = "virtual-machines" | "cloud-accounts" | "cluster-discovery";

export function offers(profile: Profile, feature: Feature): boolean {
  return profile.features.includes(feature);
}

export const isSuperAdmin = (profile: Profile) => profile.roles.includes(SUPER_ADMIN);

export function can(profile: Profile, kind: RbacKind, action: Action): boolean {
  return profile.permissions.includes(`${kind}.${action}`);
}

/** Whether the user may edit or delete this object: the owner by the role's permission, any
 * other user only as a super admin (a share lets others see and use it, never change it). */
export function mayChange(profile: Profile, kind: RbacKind, action: "edit" | "delete", owner_id: string): boolean {
  if (!can(profile, kind, action)) return false;
  return owner_id === profile.subject || isSuperAdmin(profile);
}

/** Whether the user owns the object or manages everyone's (may share it, delete a cluster). */
export function ownsOrManages(profile: Profile, owner_id: string): boolean {
  return owner_id === profile.subject || isSuperAdmin(profile);
}

export interface NavEntry {
  label: string;
  path: string;
  group?: "Settings";
}

/** The navigation the user's roles and the API's mode allow, in the seeds' order. */
export function navigation(profile: Profile): NavEntry[] {
  if (profile.roles.length === 0) return [{ label: "User Profile", path: "/profile" }];
  const entries: NavEntry[] = [
    { label: "Home", path: "/" },
    { label: "All Shared Clusters", path: "/shared-clusters" },
    { label: "All Backups", path: "/backups" },
  ];
  const settings: [RbacKind, string, string][] = [
    ["schedule-policies", "Schedule Policies", "/settings/schedule-policies"],
    ["cloud-accounts", "Cloud Accounts", "/settings/cloud-accounts"],
    ["backup-locations", "Backup Locations", "/settings/backup-locations"],
    ["rules", "Rules", "/settings/rules"],
  ];
  for (const [kind, label, path] of settings) {
    if (kind === "cloud-accounts" && !offers(profile, "cloud-accounts")) continue;
    if (can(profile, kind, "view")) entries.push({ label, path, group: "Settings" });
  }
  // Notifications: every role keeps its own receivers and subscriptions (not in the matrix).
  entries.push({ label: "Notifications", path: "/settings/notifications", group: "Settings" });
  // Discovery configurations: federated mode, super admins only (no role permission grants
  // them; the API refuses everyone else).
  if (offers(profile, "cluster-discovery") && isSuperAdmin(profile)) {
    entries.push({ label: "Cluster Discovery", path: "/discovery", group: "Settings" });
  }
  entries.push(
    { label: "Lighthouse", path: "/lighthouse" },
    { label: "Service Status", path: "/service-status" },
    { label: "License", path: "/license" },
    { label: "User Profile", path: "/profile" },
  );
  if (can(profile, "users-groups", "view")) entries.push({ label: "User Management", path: "/users" });
  return entries;
}

/** The built-in roles the user may hand out: the super admin role only by a super admin, the
 * app admin role only in the mode that has it (classic: the one with virtual machines). */
export function assignableRoles(profile: Profile, roles: string[]): string[] {
  return roles.filter(
    (role) => (role !== SUPER_ADMIN || isSuperAdmin(profile)) && (role !== APP_ADMIN || offers(profile, "virtual-machines")),
  );
}
