import { byId } from "./dom.js";

/**
 * Asks the viewer to confirm a destructive action in the page's modal dialog (focus moves
 * into it, Escape cancels); resolves true only for the confirm button.
 */
export function confirmAction(
  title: string,
  message: string,
  confirmLabel: string,
): Promise<boolean> {
  const dialog = byId("confirm-dialog", HTMLDialogElement);
  byId("confirm-title", HTMLHeadingElement).textContent = title;
  byId("confirm-message", HTMLParagraphElement).textContent = message;
  const ok = byId("confirm-ok", HTMLButtonElement);
  ok.textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    const onClose = (): void => {
      dialog.removeEventListener("close", onClose);
      resolve(dialog.returnValue === "confirm");
    };
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    // The safe choice has the focus, so Enter alone deletes nothing.
    byId("confirm-cancel", HTMLButtonElement).focus();
  });
}
