// Journal: every order intent of the account, newest first, its status updated live by the
// `orders` channel (re-read after every (re)subscription: the stream sends no backlog).
import { useEffect, useState } from "preact/hooks";
import { describe } from "../errors.js";
import { moreJournal, refreshJournal, useStore } from "../state.js";
import { Time, price } from "../ui.js";

const STATUS: Record<string, string> = {
  pending: "⏳ pending",
  done: "✓ done",
  rejected: "✗ rejected",
  refused: "✗ refused",
  failed: "✗ failed",
  unknown: "? unknown",
  not_executed: "– not executed",
};

export function Journal() {
  const s = useStore();
  const [error, setError] = useState<string>();
  useEffect(() => {
    refreshJournal().catch((e) => setError(describe(e).text));
  }, [s.accountId, s.epoch]);
  return (
    <section>
      <h1 tabIndex={-1}>Journal</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {s.journal.length === 0 ? (
        <p>No order yet on this account.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Journal">
          <table data-testid="journal">
            <caption>Orders sent, newest first (statuses update live)</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Action</th>
                <th scope="col">Symbol</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Order</th>
                <th scope="col">Price</th>
                <th scope="col">Source</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {s.journal.map((j) => {
                const r = j.request as Record<string, unknown>;
                return (
                  <tr key={j.id} data-id={j.id} data-key={j.idempotency_key ?? ""}>
                    <td>
                      <Time iso={j.created_at} />
                    </td>
                    <td>{j.action.replace(/_/g, " ")}</td>
                    <td>{typeof r.symbol === "string" ? r.symbol : "—"}</td>
                    <td>
                      {[r.type, r.volume, r.price !== undefined ? `@ ${String(r.price)}` : ""].filter((x) => x !== undefined && x !== "").join(" ") || "—"}
                    </td>
                    <td data-status={j.status}>{STATUS[j.status] ?? j.status}</td>
                    <td>{j.order ?? "—"}</td>
                    <td>{price(j.price)}</td>
                    <td>{j.source}</td>
                    <td>{j.error ?? ""}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {s.journalCursor && (
        <button type="button" onClick={() => moreJournal().catch((e) => setError(describe(e).text))}>
          Show older entries
        </button>
      )}
    </section>
  );
}
