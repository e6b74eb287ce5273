import { FileUpload } from "@patternfly/react-core";
import { useState } from "react";

/** A kubeconfig, pasted or read from a file; write-only (the stored one is never shown). */
export function KubeconfigField({
  id,
  label,
  value,
  onChange,
  invalid,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (text: string) => void;
  invalid: boolean;
}) {
  const [filename, setFilename] = useState("");
  return (
    <FileUpload
      id={id}
      type="text"
      value={value}
      filename={filename}
      filenamePlaceholder="Paste a kubeconfig or choose a file"
      onFileInputChange={(_e, file) => setFilename(file.name)}
      onDataChange={(_e, data) => onChange(data)}
      onTextChange={(_e, text) => onChange(text)}
      onClearClick={() => {
        onChange("");
        setFilename("");
      }}
      allowEditingUploadedText
      browseButtonText="Choose file"
      aria-label={label}
      filenameAriaLabel={`${label} file name`}
      validated={invalid ? "error" : "default"}
    />
  );
}
