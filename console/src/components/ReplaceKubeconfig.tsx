import { Button, Form, FormGroup, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { fieldError } from "../api/errors";
import { useApiMutation } from "../api/hooks";
import { KubeconfigField } from "./KubeconfigField";
import { ErrorAlert, FieldError } from "./states";

/** Replace a cluster's kubeconfig with a new one (write-only: the stored one is never shown). */
export function ReplaceKubeconfig({ uid, name }: { uid: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [kubeconfig, setKubeconfig] = useState("");
  const replace = useApiMutation(
    () => unwrap(api.PUT("/api/v1/clusters/{uid}/kubeconfig", { params: { path: { uid } }, body: { kubeconfig } })),
    [["clusters", uid]],
  );
  const onField = fieldError(replace.error, "kubeconfig");
  return (
    <>
      <Button variant="secondary" onClick={() => setOpen(true)}>
        Replace kubeconfig
      </Button>
      <Modal variant="medium" isOpen={open} onClose={() => setOpen(false)} aria-labelledby="kubeconfig-title">
        <ModalHeader title={`Replace the kubeconfig of ${name}`} labelId="kubeconfig-title" />
        <ModalBody>
          <Form onSubmit={(e) => e.preventDefault()}>
            <FormGroup label="New kubeconfig" fieldId="new-kubeconfig" isRequired>
              <KubeconfigField id="new-kubeconfig" label="New kubeconfig" value={kubeconfig} onChange={setKubeconfig} invalid={Boolean(onField)} />
              <FieldError message={onField} />
            </FormGroup>
            {replace.error && !onField ? <ErrorAlert error={replace.error} title="Not replaced" /> : null}
          </Form>
        </ModalBody>
        <ModalFooter>
          <Button
            variant="primary"
            isLoading={replace.isPending}
            onClick={() =>
              replace.mutate(undefined, {
                onSuccess: () => {
                  setKubeconfig("");
                  setOpen(false);
                },
              })
            }
          >
            Replace
          </Button>
          <Button variant="link" onClick={() => setOpen(false)}>
            Cancel
          </Button>
        </ModalFooter>
      </Modal>
    </>
  );
}
