// Lightweight Charts' attribution (its NOTICE asks for the logo and the link), drawn by every chart
// of the console: the library's own logo injects a <style> element, which the console's CSP refuses.
/** Lightweight Charts' attribution logo and link (its NOTICE asks for both), as the library draws it. */
export function TradingViewLogo() {
  return (
    <a class="tv-attr-logo" href="https://www.tradingview.com/" target="_blank" rel="noreferrer" title="Charting by TradingView" aria-label="Charting by TradingView">
      <svg xmlns="http://www.w3.org/2000/svg" width="35" height="19" fill="none" aria-hidden="true">
        <g fill-rule="evenodd" clip-path="url(#tv-attr-clip)" clip-rule="evenodd">
          <path
            fill="var(--stroke)"
            d="M2 0H0v10h6v9h21.4l.5-1.3 6-15 1-2.7H23.7l-.5 1.3-.2.6a5 5 0 0 0-7-.9V0H2Zm20 17h4l5.2-13 .8-2h-7l-1 2.5-.2.5-1.5 3.8-.3.7V17Zm-.8-10a3 3 0 0 0 .7-2.7A3 3 0 1 0 16.8 7h4.4ZM14 7V2H2v6h6v9h4V7h2Z"
          />
          <path fill="var(--fill)" d="M14 2H2v6h6v9h6V2Zm12 15h-7l6-15h7l-6 15Zm-7-9a3 3 0 1 0 0-6 3 3 0 0 0 0 6Z" />
        </g>
        <defs>
          <clipPath id="tv-attr-clip">
            <path fill="var(--stroke)" d="M0 0h35v19H0z" />
          </clipPath>
        </defs>
      </svg>
    </a>
  );
}
