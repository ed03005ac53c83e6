// The embed snippet: <script src="https://bot.example/web/embed.js" defer></script> adds a
// floating button that opens the chat in a frame. It acts only on the allowed origins
// (IIJBOT_WEB_ORIGINS); the chat page's frame-ancestors policy enforces the same list.
(() => {
  const config = __CONFIG__;
  const chatOrigin = new URL(config.chat).origin;
  if (location.origin !== chatOrigin && !config.origins.includes(location.origin)) return;
  if (document.getElementById("iijbot-launcher")) return;

  const button = document.createElement("button");
  button.id = "iijbot-launcher";
  button.type = "button";
  button.textContent = config.open;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "iijbot-panel");
  Object.assign(button.style, {
    position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483000",
    minHeight: "48px", padding: "0 18px", borderRadius: "24px", border: "0",
    background: "#a3171e", color: "#ffffff", font: "inherit", fontSize: "16px",
    boxShadow: "0 2px 8px rgba(0,0,0,.3)", cursor: "pointer",
  });

  const panel = document.createElement("div");
  panel.id = "iijbot-panel";
  panel.hidden = true;
  Object.assign(panel.style, {
    position: "fixed", right: "16px", bottom: "76px", zIndex: "2147483000",
    width: "min(400px, calc(100vw - 32px))", height: "min(640px, calc(100vh - 96px))",
    background: "#ffffff", border: "1px solid #c8c8c8", borderRadius: "12px",
    boxShadow: "0 4px 16px rgba(0,0,0,.3)", overflow: "hidden",
  });
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = config.close;
  Object.assign(close.style, {
    position: "absolute", top: "6px", right: "6px", minHeight: "36px", zIndex: "1",
    border: "1px solid #a3171e", borderRadius: "18px", background: "#ffffff", color: "#a3171e",
  });
  let frame = null;

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = config.chat;
      frame.title = config.open;
      Object.assign(frame.style, { width: "100%", height: "100%", border: "0" });
      panel.append(close, frame);
    }
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }
  function shut() {
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", () => (panel.hidden ? open() : shut()));
  close.addEventListener("click", shut);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) shut(); });
  window.addEventListener("message", (e) => {
    if (e.origin === chatOrigin && e.data && e.data.iijbot === "close" && !panel.hidden) shut();
  });
  document.body.append(panel, button);
})();
