// Bots: the user's bots page by page (this account's or every account's), a form to create one
// (a strategy or saved configuration, its parameters from the strategy's JSON Schema, paper or
// live), and per bot Pause, Resume, Stop…, Delete… and Edit parameters; the kill switch pauses every
// running bot. One bot's page (/console/bots/<id>) adds its passes (its algorithm runs). Rows change
// in place from the stream's `bots` channel (no polling); after a reconnection what is shown is
// read again, as the stream has no backlog.
import { useEffect, useRef, useState } from "preact/hooks";
import type { components } from "@mt5-bridge/client";
import type { ComponentChildren } from "preact";
import { describe, type Shown } from "../errors.js";
import { MESSAGES } from "../messages.js";
import { ParameterFields, StrategySelect, chosenStrategy, parametersOf, propsOf, typed } from "../params.js";
import { api, call, toast, useStore, useUserChannel } from "../state.js";
import { Dialog, ErrorText, Field, Side, Time } from "../ui.js";
import { listAll, type Builtin, type Saved } from "./Algorithms.js";

type Bot = components["schemas"]["BotView"];
type BotState = components["schemas"]["BotState"];
type Run = components["schemas"]["AlgorithmRun"];
type Strategies = { builtin: Builtin[]; saved: Saved[] };

const LIST_PAGE = 20;
const RUNS_PAGE = 20;

const STATE: Record<BotState, [string, string]> = {
  running: ["▶", "Running"],
  paused: ["⏸", "Paused"],
  faulted: ["⚠", "Faulted"],
  stopped: ["■", "Stopped"],
};

/** Why a bot is in its state, in words (docs/bots.md); an error code by its message. */
const REASONS: Record<string, string> = {
  user: "by you",
  kill_switch: "by the kill switch",
  daily_loss_reached: "the account's daily loss limit was reached",
  account_deleted: "its account was deleted",
  invalid_configuration: "its strategy, parameters or the account's risk limits cannot be read",
  live_confirmation_required: "a live account, and the bot was not confirmed for live trading",
};

/** Why a bar was skipped. */
const SKIPS: Record<string, string> = {
  trading_disabled: "trading is switched off on the account",
  order_in_doubt: "one of its orders is still settling",
  refusals_per_user: "your refusal budget of the hour is spent",
  server_time_unknown: "the server's clock offset is not known",
  daily_loss_reached: "the account's daily loss limit was reached",
};

function words(code: string | null | undefined, own: Record<string, string>): string {
  if (!code) return "";
  return own[code] ?? (MESSAGES as Record<string, string>)[code] ?? code;
}

const RUN_STATUS: Record<string, string> = {
  running: "▶ running",
  done: "✓ done",
  failed: "✗ failed",
  skipped: "– skipped",
};

/** The bot named by the address (/console/bots/<id>), if any. */
function idFromPath(): string | undefined {
  const [screen, id] = location.pathname.replace(/^\/console\/?/, "").split("/");
  return screen === "bots" && id ? decodeURIComponent(id) : undefined;
}

/** Moves to a path under /console/, keeping the chosen account, as the screen links do. */
function go(path: string): void {
  history.pushState(null, "", `/console/${path}${location.search}`);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** The later of two versions of a bot (a read that started before an event does not undo it). */
function newer(a: Bot | undefined, b: Bot): Bot {
  return a && Date.parse(a.updated_at) > Date.parse(b.updated_at) ? a : b;
}

function useStrategies(): [Strategies | undefined, Shown | undefined] {
  const [list, setList] = useState<Strategies>();
  const [error, setError] = useState<Shown>();
  useEffect(() => {
    listAll()
      .then(setList)
      .catch((e) => setError(describe(e)));
  }, []);
  return [list, error];
}

export function Bots() {
  const [id, setId] = useState(idFromPath());
  useEffect(() => {
    const pop = () => setId(idFromPath());
    addEventListener("popstate", pop);
    return () => removeEventListener("popstate", pop);
  }, []);
  const first = useRef(true);
  useEffect(() => {
    // The main view focuses the heading when the screen changes; within this screen, here.
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>("main h1")?.focus({ preventScroll: true });
    document.title = `${id ? "Bot" : "Bots"} · mt5-bridge console`;
  }, [id]);
  return id ? <BotPage key={id} id={id} /> : <BotsHome />;
}

export function StateText({ bot }: { bot: Bot }) {
  const [icon, word] = STATE[bot.state] ?? ["", bot.state];
  const reason = words(bot.state_reason, REASONS);
  return (
    <span class={`bot-state ${bot.state}`}>
      <span aria-hidden="true">{icon} </span>
      {word}
      {reason && bot.state !== "running" ? `: ${reason}` : ""}
    </span>
  );
}

function skippedText(bot: Bot): string {
  return bot.skipped_bars && bot.last_skip_reason ? `${bot.skipped_bars} (last: ${words(bot.last_skip_reason, SKIPS)})` : String(bot.skipped_bars);
}

// ---- the form and the list ---------------------------------------------------------------

function BotsHome() {
  const s = useStore();
  const [created, setCreated] = useState<Bot>();
  return (
    <section>
      <h1 tabIndex={-1}>Bots</h1>
      <p class="hint">
        A bot runs its strategy on every closed bar of its timeframe, unattended. A paper bot plans each bar and records what it would have
        done; it sends no order.
      </p>
      <BotList key={s.accountId} created={created} />
      <BotForm onCreated={setCreated} />
    </section>
  );
}

function BotForm({ onCreated }: { onCreated: (b: Bot) => void }) {
  const s = useStore();
  const [list, listError] = useStrategies();
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState("ma_crossover");
  const [values, setValues] = useState<Record<string, string>>({ symbol: "EURUSD" });
  const [paper, setPaper] = useState(true);
  const [error, setError] = useState<Shown>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  const { saved, builtin } = chosenStrategy(list, chosen);
  const props = propsOf(builtin);
  const account = s.accounts?.find((a) => a.id === s.accountId);
  const live = account?.account_type === "live" || s.summary?.trade_mode === "real";

  async function create(confirmLive: boolean) {
    if (busy || !s.accountId) return;
    setBusy(true);
    setError(undefined);
    try {
      const b = await call(
        api().POST("/api/v1/bots", {
          body: {
            name: name.trim(),
            account_id: s.accountId,
            algorithm_id: chosen,
            parameters: parametersOf(props, values),
            dry_run: paper,
            ...(confirmLive ? { confirm_live: true } : {}),
          },
        }),
      );
      toast(`Bot ${b.name} created: ${b.dry_run ? "a paper bot on" : "it trades"} ${b.symbol} ${b.timeframe}.`);
      setName("");
      onCreated(b);
    } catch (e) {
      const d = describe(e);
      setError(d);
      // The terminal says the account is live although its row does not: confirm, then try again.
      if (d.code === "live_confirmation_required" && !paper) setConfirming(true);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      class="card"
      aria-labelledby="bot-form-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (!paper && live) setConfirming(true);
        else void create(false);
      }}
    >
      <h2 id="bot-form-title">New bot</h2>
      <p class="hint">
        On {account ? `${account.account_name} (${account.login}, ${account.server})` : "no account"}
        {live ? ", a LIVE (real-money) account" : ""}: choose another account above.
      </p>
      <div class="grid">
        <Field id="b-name" label="Name" name="name" error={error}>
          {(a) => <input {...a} required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
        <StrategySelect id="b-algo" label="Strategy or saved configuration" list={list} value={chosen} onChange={setChosen} error={error} />
      </div>
      {builtin?.description && <p class="hint">{builtin.description}</p>}
      <fieldset>
        <legend>Parameters</legend>
        <ParameterFields idPrefix="b-p-" schema={props} values={values} onChange={setValues} error={error} current={saved?.parameters} />
      </fieldset>
      <div class="field check">
        <input id="b-paper" type="checkbox" checked={paper} aria-describedby="b-paper-hint" onChange={(e) => setPaper((e.target as HTMLInputElement).checked)} />
        <label for="b-paper">Paper bot</label>
      </div>
      <small id="b-paper-hint" class="hint">
        Plans each bar and records what it would have done; sends nothing. Untick it for a bot that places orders.
      </small>
      <div class="buttons">
        <button type="submit" class={paper ? "primary" : "danger"} disabled={busy || !s.accountId}>
          {paper ? "Create paper bot" : live ? "Create live bot…" : "Create bot"}
        </button>
      </div>
      <ErrorText shown={error ?? listError} />
      {confirming && (
        <Dialog title="Start a bot on a live account?" onClose={() => setConfirming(false)}>
          <p>
            The bot will place real orders on {account?.account_name ?? "this account"} ({account?.login}, {account?.server}), a LIVE (real-money)
            account, on every closed bar until you pause or stop it.
          </p>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => {
                setConfirming(false);
                void create(true);
              }}
            >
              Yes, start it live
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </Dialog>
      )}
    </form>
  );
}

function BotList({ created }: { created: Bot | undefined }) {
  const s = useStore();
  const [all, setAll] = useState(false);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [rows, setRows] = useState<Bot[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const [killing, setKilling] = useState(false);
  const [killed, setKilled] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [reads, setReads] = useState(0);
  /** The latest version of each bot seen (events, answers), so a slower read does not undo it. */
  const seen = useRef(new Map<string, Bot>());
  const cursor = cursors[cursors.length - 1];
  const account = s.accounts?.find((a) => a.id === s.accountId);
  const names = new Map((s.accounts ?? []).map((a) => [a.id, a.account_name]));

  useEffect(() => {
    let stale = false;
    const query = { limit: LIST_PAGE, ...(all || !s.accountId ? {} : { account_id: s.accountId }), ...(cursor ? { cursor } : {}) };
    call(api().GET("/api/v1/bots", { params: { query } }))
      .then((p) => {
        if (stale) return;
        setRows(p.bots.map((b) => newer(seen.current.get(b.id), b)));
        setNext(p.next_cursor);
        setError(undefined);
      })
      .catch((e) => !stale && setError(describe(e).text));
    return () => {
      stale = true;
    };
  }, [all, cursor, reads]);

  function show(b: Bot, add: boolean) {
    const latest = newer(seen.current.get(b.id), b);
    seen.current.set(b.id, latest);
    setRows((rs) => {
      if (!rs) return rs;
      if (rs.some((r) => r.id === b.id)) return rs.map((r) => (r.id === b.id ? latest : r));
      // A new bot (oldest first) belongs at the end of the last page.
      const mine = all || b.account_id === s.accountId;
      return add && mine && !next ? [...rs, latest] : rs;
    });
  }

  useUserChannel(
    "bots",
    (b) => show(b, true),
    () => setReads((n) => n + 1),
  );
  useEffect(() => {
    if (created) show(created, true);
  }, [created]);

  async function killSwitch() {
    setBusy(true);
    try {
      const r = await call(api().POST("/api/v1/bots/kill_switch", { body: all || !s.accountId ? {} : { account_id: s.accountId } }));
      const n = r.paused.length;
      setKilled(n === 0 ? "Kill switch: no running bot to pause." : `Kill switch: ${n} ${n === 1 ? "bot" : "bots"} paused.`);
      setReads((x) => x + 1);
    } catch (e) {
      toast(describe(e).text, "error");
    } finally {
      setBusy(false);
    }
  }

  const page = cursors.length;
  const scope = all ? "all your accounts" : (account?.account_name ?? "this account");
  return (
    <section aria-labelledby="bot-list-title">
      <h2 id="bot-list-title">Your bots</h2>
      <div class="inline">
        <label for="bots-scope">Bots of</label>
        <select
          id="bots-scope"
          value={all ? "all" : "account"}
          onChange={(e) => {
            setAll((e.target as HTMLSelectElement).value === "all");
            setCursors([undefined]);
            setRows(undefined);
          }}
        >
          <option value="account">this account ({account?.account_name ?? "—"})</option>
          <option value="all">all your accounts</option>
        </select>
        <button type="button" class="danger" disabled={busy} onClick={() => setKilling(true)}>
          Kill switch…
        </button>
      </div>
      <p role="status" class="status" data-testid="kill-result">
        {killed ?? ""}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {rows === undefined ? (
        <p>Loading…</p>
      ) : rows.length === 0 ? (
        <p>No bot yet{all ? "" : " on this account"}.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`Bots, page ${page}`}>
          <table data-testid="bots">
            <caption>Bots of {scope}, oldest first (states and counters update live)</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {all && <th scope="col">Account</th>}
                <th scope="col">Strategy</th>
                <th scope="col">Symbol</th>
                <th scope="col">Timeframe</th>
                <th scope="col">Mode</th>
                <th scope="col">State</th>
                <th scope="col">Last bar</th>
                <th scope="col">Next bar</th>
                <th scope="col">Passes</th>
                <th scope="col">Trades</th>
                <th scope="col">Skipped bars</th>
                <th scope="col">Missed bars</th>
                <th scope="col">Magic</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((b) => (
                <tr key={b.id} data-id={b.id} data-state={b.state}>
                  <td>
                    <a
                      href={`/console/bots/${b.id}${location.search}`}
                      onClick={(e) => {
                        if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                        e.preventDefault();
                        go(`bots/${b.id}`);
                      }}
                    >
                      {b.name}
                    </a>
                  </td>
                  {all && <td>{names.get(b.account_id) ?? b.account_id}</td>}
                  <td>{b.algorithm}</td>
                  <td>{b.symbol}</td>
                  <td>{b.timeframe}</td>
                  <td>{b.dry_run ? "Paper" : "Live"}</td>
                  <td>
                    <StateText bot={b} />
                  </td>
                  <td>
                    <Time iso={b.last_bar_time} />
                  </td>
                  <td>
                    <Time iso={b.next_bar_time} />
                  </td>
                  <td>{b.passes}</td>
                  <td>{b.trades}</td>
                  <td>{skippedText(b)}</td>
                  <td>{b.missed_bars}</td>
                  <td>{b.magic}</td>
                  <td class="actions">
                    <BotActions
                      bot={b}
                      onChanged={(x) => show(x, false)}
                      onDeleted={() => {
                        seen.current.delete(b.id);
                        setRows((rs) => rs?.filter((r) => r.id !== b.id));
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of bots">
        <button type="button" disabled={page <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span aria-live="polite">Page {page}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Next page
        </button>
      </nav>
      {killing && (
        <Dialog title="Pause every running bot?" onClose={() => setKilling(false)}>
          <p>
            The kill switch pauses every running bot of {scope}. Each stays paused until you resume it; positions are left as they are, and the
            account's own trading switch is not changed.
          </p>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => {
                setKilling(false);
                void killSwitch();
              }}
            >
              Pause them all
            </button>
            <button type="button" onClick={() => setKilling(false)}>
              Cancel
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}

// ---- what can be done to one bot ------------------------------------------------------------

function BotActions(props: { bot: Bot; onChanged: (b: Bot) => void; onDeleted: () => void }) {
  const { bot } = props;
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<"stop" | "delete" | "edit">();
  const who = () => <span class="sr-only"> {bot.name}</span>;

  async function act(f: () => Promise<Bot>, done: (b: Bot) => string) {
    if (busy) return;
    setBusy(true);
    try {
      const b = await f();
      props.onChanged(b);
      toast(done(b));
    } catch (e) {
      toast(describe(e).text, "error");
    } finally {
      setBusy(false);
    }
  }

  const path = { params: { path: { bot_id: bot.id } } };
  return (
    <>
      {bot.state === "running" && (
        <button type="button" disabled={busy} onClick={() => void act(() => call(api().POST("/api/v1/bots/{bot_id}/pause", path)), (b) => `Bot ${b.name} paused.`)}>
          Pause{who()}
        </button>
      )}
      {(bot.state === "paused" || bot.state === "faulted") && (
        <button type="button" disabled={busy} onClick={() => void act(() => call(api().POST("/api/v1/bots/{bot_id}/resume", path)), (b) => `Bot ${b.name} resumed.`)}>
          Resume{who()}
        </button>
      )}
      {bot.state !== "stopped" && (
        <button type="button" disabled={busy} onClick={() => setDialog("edit")}>
          Edit parameters{who()}
        </button>
      )}
      {bot.state !== "stopped" ? (
        <button type="button" class="danger" disabled={busy} onClick={() => setDialog("stop")}>
          Stop…{who()}
        </button>
      ) : (
        <button type="button" class="danger" disabled={busy} onClick={() => setDialog("delete")}>
          Delete…{who()}
        </button>
      )}
      {dialog === "stop" && <StopDialog bot={bot} onChanged={props.onChanged} onClose={() => setDialog(undefined)} />}
      {dialog === "delete" && <DeleteDialog bot={bot} onDeleted={props.onDeleted} onClose={() => setDialog(undefined)} />}
      {dialog === "edit" && <EditDialog bot={bot} onChanged={props.onChanged} onClose={() => setDialog(undefined)} />}
    </>
  );
}

interface LeftOpen {
  ticket?: number;
  symbol?: string;
  volume?: number;
  reason?: string;
}

function OpenPositions({ positions }: { positions: Bot["open_positions"] }) {
  if (!positions || positions.length === 0) return null;
  return (
    <div data-testid="bot-open-positions">
      <p>Positions left open (their closes failed):</p>
      <ul>
        {(positions as LeftOpen[]).map((p, i) => (
          <li key={i}>
            Position {p.ticket ?? "?"} ({p.symbol ?? "?"}, {p.volume ?? "?"} lots): {words(p.reason, {})}
          </li>
        ))}
      </ul>
    </div>
  );
}

function StopDialog(props: { bot: Bot; onChanged: (b: Bot) => void; onClose: () => void }) {
  const { bot } = props;
  const [close, setClose] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Shown>();
  const [left, setLeft] = useState<Bot>();

  async function stop() {
    setBusy(true);
    setError(undefined);
    try {
      const b = await call(api().POST("/api/v1/bots/{bot_id}/stop", { params: { path: { bot_id: bot.id } }, body: { close_positions: close } }));
      props.onChanged(b);
      if (b.open_positions && b.open_positions.length > 0) {
        setLeft(b);
      } else {
        toast(`Bot ${b.name} stopped${close ? "; its positions are closed" : ""}.`);
        props.onClose();
      }
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  if (left) {
    return (
      <Dialog title={`Bot ${bot.name} stopped`} onClose={props.onClose}>
        <OpenPositions positions={left.open_positions} />
        <div class="buttons">
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog title={`Stop bot ${bot.name}?`} onClose={props.onClose}>
      <p>A stopped bot stays stopped for good: it can then only be deleted.</p>
      <div class="field check">
        <input id="stop-close" type="checkbox" checked={close} onChange={(e) => setClose((e.target as HTMLInputElement).checked)} />
        <label for="stop-close">Also close its positions (those carrying its magic number {bot.magic})</label>
      </div>
      <ErrorText shown={error} />
      <div class="buttons">
        <button type="button" class="danger" disabled={busy} onClick={() => void stop()}>
          Stop bot
        </button>
        <button type="button" onClick={props.onClose}>
          Keep it
        </button>
      </div>
    </Dialog>
  );
}

function DeleteDialog(props: { bot: Bot; onDeleted: () => void; onClose: () => void }) {
  const { bot } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Shown>();
  return (
    <Dialog title={`Delete bot ${bot.name}?`} onClose={props.onClose}>
      <p>The bot is removed; its passes stay among the algorithm runs.</p>
      <ErrorText shown={error} />
      <div class="buttons">
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(undefined);
            try {
              await call(api().DELETE("/api/v1/bots/{bot_id}", { params: { path: { bot_id: bot.id } } }));
              toast(`Bot ${bot.name} deleted.`);
              props.onClose();
              props.onDeleted();
            } catch (e) {
              setError(describe(e));
              setBusy(false);
            }
          }}
        >
          Delete
        </button>
        <button type="button" onClick={props.onClose}>
          Keep it
        </button>
      </div>
    </Dialog>
  );
}

function textOf(v: unknown): string {
  return v === null ? "null" : v === undefined ? "" : String(v);
}

function EditDialog(props: { bot: Bot; onChanged: (b: Bot) => void; onClose: () => void }) {
  const { bot } = props;
  const [list, listError] = useStrategies();
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(bot.parameters).map(([k, v]) => [k, textOf(v)])),
  );
  const [error, setError] = useState<Shown>();
  const [busy, setBusy] = useState(false);
  const schema = propsOf(list?.builtin.find((b) => b.name === bot.algorithm));

  async function save() {
    // Only what changed is sent: the service merges it over the bot's parameters.
    const changed: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(schema)) {
      const v = (values[k] ?? "").trim();
      if (v === "") continue;
      const t = typed(p, v);
      if (JSON.stringify(t) !== JSON.stringify(bot.parameters[k])) changed[k] = t;
    }
    if (Object.keys(changed).length === 0) {
      toast(`Bot ${bot.name}: nothing changed.`);
      props.onClose();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const b = await call(api().PUT("/api/v1/bots/{bot_id}", { params: { path: { bot_id: bot.id } }, body: { parameters: changed } }));
      props.onChanged(b);
      toast(`Bot ${b.name}: parameters saved.`);
      props.onClose();
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title={`Parameters of bot ${bot.name}`} onClose={props.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <p class="hint">
          {bot.algorithm}: the new values apply from its next pass.
        </p>
        {list ? <ParameterFields idPrefix="be-p-" schema={schema} values={values} onChange={setValues} error={error} /> : <p>Loading the strategy…</p>}
        <ErrorText shown={error ?? listError} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy || !list}>
            Save
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

// ---- one bot ---------------------------------------------------------------------------------

function BotPage({ id }: { id: string }) {
  const s = useStore();
  const [bot, setBot] = useState<Bot>();
  const [error, setError] = useState<Shown>();
  const [reads, setReads] = useState(0);
  const [gone, setGone] = useState(false);
  /** Not found: final, not read again. */
  const missing = useRef(false);

  useEffect(() => {
    if (missing.current) return;
    let stale = false;
    call(api().GET("/api/v1/bots/{bot_id}", { params: { path: { bot_id: id } } }))
      .then((b) => {
        if (stale) return;
        setBot((was) => newer(was, b));
        setError(undefined);
      })
      .catch((e) => {
        if (stale) return;
        const d = describe(e);
        missing.current = d.code === "bot_not_found" || d.code === "validation_failed";
        setError(d);
      });
    return () => {
      stale = true;
    };
  }, [id, reads]);

  useUserChannel(
    "bots",
    (b) => b.id === id && setBot((was) => newer(was, b)),
    () => !missing.current && setReads((n) => n + 1),
  );

  const back = (
    <p>
      <a
        href={`/console/bots${location.search}`}
        onClick={(e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey) return;
          e.preventDefault();
          go("bots");
        }}
      >
        ← All bots
      </a>
    </p>
  );

  if (!bot || gone) {
    const missing = gone || (error && (error.code === "bot_not_found" || error.code === "validation_failed"));
    return (
      <section>
        {back}
        <h1 tabIndex={-1}>{missing ? "Bot not found" : "Bot"}</h1>
        {error || gone ? (
          <p class="error" role="alert">
            {gone ? MESSAGES.bot_not_found : error?.text}
          </p>
        ) : (
          <p>Loading the bot…</p>
        )}
      </section>
    );
  }

  const account = s.accounts?.find((a) => a.id === bot.account_id);
  const facts: [string, string, ComponentChildren][] = [
    ["algorithm", "Strategy", bot.algorithm_id === bot.algorithm ? bot.algorithm : `${bot.algorithm} (saved configuration ${bot.algorithm_id})`],
    ["account", "Account", account ? `${account.account_name} (${account.login}, ${account.server})` : bot.account_id],
    ["symbol", "Symbol", bot.symbol],
    ["timeframe", "Timeframe", bot.timeframe],
    ["mode", "Mode", bot.dry_run ? "Paper (sends nothing)" : `Live${bot.confirm_live ? " (confirmed for a live account)" : ""}`],
    ["last_bar_time", "Last bar evaluated", <Time iso={bot.last_bar_time} />],
    ["next_bar_time", "Next pass", <Time iso={bot.next_bar_time} />],
    ["passes", "Passes", String(bot.passes)],
    ["trades", bot.dry_run ? "Trades planned" : "Trades", String(bot.trades)],
    ["skipped_bars", "Skipped bars", skippedText(bot)],
    ["missed_bars", "Missed bars", String(bot.missed_bars)],
    ["refused_bars", "Bars refused in a row", String(bot.refused_bars)],
    ["magic", "Magic number", String(bot.magic)],
    ["netting", "Account mode", bot.netting ? "netting (one position per symbol)" : "hedging"],
    ["created_at", "Created", <Time iso={bot.created_at} />],
    [
      "parameters",
      "Parameters",
      Object.entries(bot.parameters)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(", ") || "defaults",
    ],
  ];
  return (
    <section>
      {back}
      <h1 tabIndex={-1}>Bot: {bot.name}</h1>
      <div class="card">
        <p class="bt-status" role="status" aria-live="polite" data-testid="bot-state">
          <StateText bot={bot} />
        </p>
        <dl class="facts" data-testid="bot-facts">
          {facts.map(([k, label, v]) => (
            <div key={k} data-field={k}>
              <dt>{label}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
        <OpenPositions positions={bot.open_positions} />
        <div class="buttons">
          <BotActions
            bot={bot}
            onChanged={(b) => setBot((was) => newer(was, b))}
            onDeleted={() => {
              setGone(true);
              go("bots");
            }}
          />
        </div>
      </div>
      <Runs id={id} last={`${bot.passes}/${bot.last_run?.id ?? ""}/${bot.last_run?.status ?? ""}`} />
    </section>
  );
}

function Runs({ id, last }: { id: string; last: string }) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [runs, setRuns] = useState<Run[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    // The first page follows the bot (a new pass may have a run); later pages stay as read.
    let stale = false;
    call(api().GET("/api/v1/algorithms/runs", { params: { query: { bot_id: id, limit: RUNS_PAGE, ...(cursor ? { cursor } : {}) } } }))
      .then((p) => {
        if (stale) return;
        setRuns(p.runs);
        setNext(p.next_cursor);
        setError(undefined);
      })
      .catch((e) => !stale && setError(describe(e).text));
    return () => {
      stale = true;
    };
  }, [id, cursor, cursor ? "" : last]);

  const page = cursors.length;
  return (
    <section class="card" aria-labelledby="bot-runs-title">
      <h2 id="bot-runs-title">Passes with a run</h2>
      <p class="hint">A pass that decided nothing and sent nothing counts in the bot's passes, not here.</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {runs === undefined ? (
        <p>Loading…</p>
      ) : runs.length === 0 ? (
        <p>No run yet.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`Runs of the bot, page ${page}`}>
          <table data-testid="bot-runs">
            <caption>Runs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Bar</th>
                <th scope="col">Started</th>
                <th scope="col">Status</th>
                <th scope="col">Trades</th>
                <th scope="col">Skipped intents</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id} data-id={r.id}>
                  <td>
                    <Time iso={r.bar_time} />
                  </td>
                  <td>
                    <Time iso={r.started_at} />
                  </td>
                  <td data-status={r.status}>
                    {RUN_STATUS[r.status] ?? r.status}
                    {r.dry_run ? " (paper)" : ""}
                  </td>
                  <td>
                    {r.trades.length === 0
                      ? "—"
                      : r.trades.map((t, i) => (
                          <span key={i}>
                            {i > 0 ? ", " : ""}
                            <Side type={t.type} /> {t.volume} {t.symbol}
                            {t.ticket ? ` #${t.ticket}` : ""}
                          </span>
                        ))}
                  </td>
                  <td>{r.skipped.length === 0 ? "—" : r.skipped.map((k) => k.reason).join("; ")}</td>
                  <td>{r.error ? words(r.error, {}) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of runs">
        <button type="button" disabled={page <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span aria-live="polite">Page {page}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>
          Next page
        </button>
      </nav>
    </section>
  );
}
