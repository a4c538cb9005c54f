() => {
  // Citation markers are <a class="rag-cite" href="#rag-p-DOC-N"> links (Gradio's chat sanitiser
  // drops data-* attributes, so the target is in the href). One delegated listener handles
  // every marker, including those in messages rendered later, and the source cards' links.
  if (window.__ragCitations) return;
  window.__ragCitations = true;

  function scrollPanel(target) {
    const panel = target.closest(".rag-scroll") || document.querySelector("#rag-article");
    const box = panel ? panel.getBoundingClientRect() : null;
    const visible = box && box.width > 0 && box.bottom > 0 && box.top < window.innerHeight;
    if (panel && visible && panel.scrollHeight > panel.clientHeight + 4) {
      const offset = target.getBoundingClientRect().top - box.top;
      panel.scrollTo({ top: panel.scrollTop + offset - panel.clientHeight / 3, behavior: "smooth" });
    } else {
      target.scrollIntoView({ behavior: "smooth", block: "center" });
    }
  }

  function show(id) {
    const target = document.getElementById(id);
    if (!target) return false;
    document.querySelectorAll(".rag-focus").forEach((el) => el.classList.remove("rag-focus"));
    target.classList.add("rag-focus");
    scrollPanel(target);
    target.focus({ preventScroll: true });
    const card = document.getElementById(id.replace(/^rag-p-/, "rag-s-"));
    if (card) {
      card.classList.add("rag-focus");
      const list = document.querySelector("#rag-sources");
      if (list && list.scrollHeight > list.clientHeight + 4) {
        const top = card.getBoundingClientRect().top - list.getBoundingClientRect().top;
        list.scrollTo({ top: list.scrollTop + top - 8, behavior: "smooth" });
      }
    }
    return true;
  }

  document.addEventListener(
    "click",
    (event) => {
      const link = event.target && event.target.closest ? event.target.closest("a.rag-cite, a.rag-goto") : null;
      if (!link) return;
      const href = link.getAttribute("href") || "";
      if (!href.startsWith("#rag-p-")) return;
      event.preventDefault();
      event.stopPropagation();
      show(decodeURIComponent(href.slice(1)));
    },
    true
  );
}
