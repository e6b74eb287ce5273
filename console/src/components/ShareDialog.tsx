import {
  Button,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  List,
  ListItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  TextInput,
} from "@patternfly/react-core";
import { useState } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { useApiMutation, useShares } from "../api/hooks";
import { ErrorAlert, QueryView } from "./states";

/** Share an object with a user, a group or everyone, at an access level; list and remove shares. */
export function ShareDialog({ kind, uid, name }: { kind: Schemas["Kind"]; uid: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [subjectKind, setSubjectKind] = useState<Schemas["ShareSubject"]>("user");
  const [subject, setSubject] = useState("");
  const [access, setAccess] = useState<Schemas["ShareLevel"]>("view");
  const shares = useShares(kind, uid);
  const key = [["shares", kind, uid]];
  const add = useApiMutation(
    () =>
      unwrap(
        api.POST("/api/v1/shares", {
          body: { object_kind: kind, object_uid: uid, subject_kind: subjectKind, subject: subjectKind === "everyone" ? "" : subject, access },
        }),
      ),
    key,
  );
  const remove = useApiMutation(
    (share: string) => unwrap(api.DELETE("/api/v1/shares/{uid}", { params: { path: { uid: share } } })),
    key,
  );
  return (
    <>
      <Button variant="secondary" onClick={() => setOpen(true)}>
        Share
      </Button>
      <Modal variant="medium" isOpen={open} onClose={() => setOpen(false)} aria-labelledby="share-title">
        <ModalHeader title={`Share ${name}`} labelId="share-title" />
        <ModalBody>
          <QueryView query={shares} what="shares">
            {(list) =>
              list.items.length === 0 ? (
                <p>Not shared yet.</p>
              ) : (
                <List aria-label="Shares">
                  {list.items.map((share) => (
                    <ListItem key={share.uid}>
                      {share.subject_kind} {share.subject || "everyone"}: {share.access}{" "}
                      <Button variant="link" isInline onClick={() => remove.mutate(share.uid)}>
                        Remove
                      </Button>
                    </ListItem>
                  ))}
                </List>
              )
            }
          </QueryView>
          <Form onSubmit={(e) => e.preventDefault()}>
            <FormGroup label="Share with" fieldId="share-subject-kind">
              <FormSelect id="share-subject-kind" value={subjectKind} onChange={(_e, v) => setSubjectKind(v as Schemas["ShareSubject"])}>
                <FormSelectOption value="user" label="User" />
                <FormSelectOption value="group" label="Group" />
                <FormSelectOption value="everyone" label="Everyone" />
              </FormSelect>
            </FormGroup>
            {subjectKind !== "everyone" ? (
              <FormGroup label={subjectKind === "user" ? "User id" : "Group name"} fieldId="share-subject" isRequired>
                <TextInput id="share-subject" value={subject} onChange={(_e, v) => setSubject(v)} />
              </FormGroup>
            ) : null}
            <FormGroup label="Access" fieldId="share-access">
              <FormSelect id="share-access" value={access} onChange={(_e, v) => setAccess(v as Schemas["ShareLevel"])}>
                <FormSelectOption value="view" label="View" />
                <FormSelectOption value="restore" label="Restore" />
                <FormSelectOption value="full" label="Full access" />
              </FormSelect>
            </FormGroup>
            {add.error ? <ErrorAlert error={add.error} title="Not shared" /> : null}
            {remove.error ? <ErrorAlert error={remove.error} title="Not removed" /> : null}
          </Form>
        </ModalBody>
        <ModalFooter>
          <Button variant="primary" onClick={() => add.mutate(undefined)} isLoading={add.isPending}>
            Add share
          </Button>
          <Button variant="link" onClick={() => setOpen(false)}>
            Close
          </Button>
        </ModalFooter>
      </Modal>
    </>
  );
}
