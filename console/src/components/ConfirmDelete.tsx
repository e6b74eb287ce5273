import { Button, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { useState } from "react";
import { ErrorAlert } from "./states";

/** A destructive action behind a modal; the API's refusal (its reason) is shown in it. */
export function ConfirmDelete({
  what,
  onConfirm,
  label = "Delete",
}: {
  what: string;
  onConfirm: () => Promise<unknown>;
  label?: string;
}) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      setOpen(false);
    } catch (refused) {
      setError(refused);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button variant="danger" onClick={() => setOpen(true)}>
        {label}
      </Button>
      <Modal variant="small" isOpen={open} onClose={() => setOpen(false)} aria-labelledby="confirm-title">
        <ModalHeader title={`${label} ${what}?`} labelId="confirm-title" titleIconVariant="warning" />
        <ModalBody>
          {error ? <ErrorAlert error={error} title="Refused" /> : `${label} ${what}: this cannot be undone.`}
        </ModalBody>
        <ModalFooter>
          <Button variant="danger" onClick={() => void confirm()} isLoading={busy} isDisabled={busy}>
            {label}
          </Button>
          <Button variant="link" onClick={() => setOpen(false)}>
            Cancel
          </Button>
        </ModalFooter>
      </Modal>
    </>
  );
}
