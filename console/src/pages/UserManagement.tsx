// User Management (seeds/001): users and groups, Manage Roles, invite, revoke.
import { Button, Checkbox, Form, FormGroup, Modal, ModalBody, ModalFooter, ModalHeader, PageSection, Tab, Tabs, TabTitleText, TextInput, Title } from "@patternfly/react-core";
import { ActionsColumn } from "@patternfly/react-table";
import { useState } from "react";
import { assignableRoles, can, type Profile } from "../access";
import { api, unwrap } from "../api/client";
import { useApiMutation, useGroups, useRoles, useUsers } from "../api/hooks";
import { NameFilter } from "../components/ListFilters";
import { PagedTable } from "../components/PagedTable";
import { ErrorAlert, QueryView } from "../components/states";

interface Target {
  kind: "user" | "group";
  id: string;
  name: string;
  roles: string[];
}

function ManageRoles({ profile, target, onClose }: { profile: Profile; target: Target; onClose: () => void }) {
  const roles = useRoles();
  const [chosen, setChosen] = useState(new Set(target.roles));
  const save = useApiMutation(
    (): Promise<unknown> =>
      target.kind === "user"
        ? unwrap(api.PUT("/api/v1/users/{subject}/roles", { params: { path: { subject: target.id } }, body: { roles: [...chosen] } }))
        : unwrap(api.PUT("/api/v1/groups/{name}/roles", { params: { path: { name: target.id } }, body: { roles: [...chosen] } })),
    [["users"], ["groups"], ["me"]],
  );
  const offered = assignableRoles(profile, (roles.data?.items ?? []).map((r) => r.name));
  return (
    <Modal variant="small" isOpen onClose={onClose} aria-labelledby="roles-title">
      <ModalHeader title={`Manage Roles of ${target.name}`} labelId="roles-title" />
      <ModalBody>
        <Form onSubmit={(e) => e.preventDefault()}>
          <FormGroup label="Roles" fieldId="roles" role="group" isStack>
            {offered.map((role) => (
              <Checkbox
                key={role}
                id={`role-${role}`}
                label={role}
                isChecked={chosen.has(role)}
                onChange={(_e, on) => {
                  const next = new Set(chosen);
                  if (on) next.add(role);
                  else next.delete(role);
                  setChosen(next);
                }}
              />
            ))}
          </FormGroup>
          {save.error ? <ErrorAlert error={save.error} title="Not saved" /> : null}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={() => save.mutate(undefined, { onSuccess: onClose })} isLoading={save.isPending}>
          Save
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

function Invite() {
  const [subject, setSubject] = useState("");
  const invite = useApiMutation(() => unwrap(api.POST("/api/v1/users", { body: { subject, roles: [] } })), [["users"]]);
  return (
    <Form
      isHorizontal
      onSubmit={(e) => {
        e.preventDefault();
        invite.mutate(undefined, { onSuccess: () => setSubject("") });
      }}
    >
      <FormGroup label="Invite user (provider user id)" fieldId="invite-subject">
        <TextInput id="invite-subject" value={subject} onChange={(_e, v) => setSubject(v)} />
      </FormGroup>
      <Button type="submit" variant="secondary" isLoading={invite.isPending}>
        Invite
      </Button>
      {invite.error ? <ErrorAlert error={invite.error} title="Not invited" /> : null}
    </Form>
  );
}

export function UserManagement({ profile }: { profile: Profile }) {
  const users = useUsers();
  const groups = useGroups();
  const [target, setTarget] = useState<Target | null>(null);
  const revoke = useApiMutation(
    (subject: string) => unwrap(api.DELETE("/api/v1/users/{subject}", { params: { path: { subject } } })),
    [["users"]],
  );
  const editable = can(profile, "users-groups", "edit");
  // The API lists users whole: the name filter is applied here, to the name or the user id.
  const [prefix, setPrefix] = useState("");
  const named = (u: { display_name: string; subject: string }) => u.display_name.startsWith(prefix) || u.subject.startsWith(prefix);
  return (
    <PageSection>
      <Title headingLevel="h1">User Management</Title>
      {revoke.error ? <ErrorAlert error={revoke.error} title="Not revoked" /> : null}
      <Tabs defaultActiveKey="users" aria-label="Users and groups">
        <Tab eventKey="users" title={<TabTitleText>Users</TabTitleText>}>
          {can(profile, "users-groups", "create") ? <Invite /> : null}
          <QueryView query={users} what="users">
            {(list) => (
              <PagedTable
                label="Users"
                rows={list.items.filter(named)}
                toolbar={<NameFilter value={prefix} onChange={setPrefix} />}
                rowKey={(u) => u.subject}
                empty="No users seen yet"
                columns={[
                  { title: "User", cell: (u) => u.display_name },
                  { title: "User id", cell: (u) => u.subject },
                  { title: "Roles", cell: (u) => u.roles.join(", ") || "-" },
                  { title: "In provider", cell: (u) => (u.in_provider ? "yes" : "no") },
                ]}
                actions={(u) =>
                  editable ? (
                    <ActionsColumn
                      items={[
                        { title: "Manage Roles", onClick: () => setTarget({ kind: "user", id: u.subject, name: u.display_name, roles: u.roles }) },
                        ...(can(profile, "users-groups", "delete") ? [{ title: "Revoke", onClick: () => revoke.mutate(u.subject) }] : []),
                      ]}
                    />
                  ) : null
                }
              />
            )}
          </QueryView>
        </Tab>
        <Tab eventKey="groups" title={<TabTitleText>Groups</TabTitleText>}>
          <QueryView query={groups} what="groups">
            {(list) => (
              <PagedTable
                label="Groups"
                rows={list.items}
                rowKey={(g) => g.name}
                empty="No groups seen yet"
                columns={[
                  { title: "Group", cell: (g) => g.name },
                  { title: "Roles", cell: (g) => g.roles.join(", ") || "-" },
                ]}
                actions={(g) =>
                  editable ? (
                    <ActionsColumn items={[{ title: "Manage Roles", onClick: () => setTarget({ kind: "group", id: g.name, name: g.name, roles: g.roles }) }]} />
                  ) : null
                }
              />
            )}
          </QueryView>
        </Tab>
      </Tabs>
      {target ? <ManageRoles profile={profile} target={target} onClose={() => setTarget(null)} /> : null}
    </PageSection>
  );
}
