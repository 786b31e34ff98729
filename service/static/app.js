// movierec page: plain JavaScript, talks only to this API. Page state lives in the URL:
//   ?title=...            a title as typed (typos resolved by the API)
//   ?movie=ID             a movie; &mode=similar, &genre=, &year_min=, &year_max= choose the list
//   ?user=ID              a user's view (the "you" panel)
//   ?view=explore         the charts
"use strict";

const $ = (id) => document.getElementById(id);
const state = { config: { writes_need_key: false }, user: null, movie: null, suggestions: [], active: -1, seq: 0 };
const USER_KEY = "movierec.user";
const RATED_KEY = "movierec.rated";

async function api(path, options = {}) {
  const resp = await fetch(path, { headers: { "Content-Type": "application/json" }, ...options });
  let body = null;
  try { body = await resp.json(); } catch (_) { body = null; }
  if (!resp.ok) {
    const err = new Error((body && body.detail && (body.detail.message || body.detail)) || `HTTP ${resp.status}`);
    err.status = resp.status;
    err.body = body;
    throw err;
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const params = () => new URLSearchParams(location.search);
const yearOf = (m) => (m.year ? ` (${m.year})` : "");
const fmtRating = (v) => (v === null || v === undefined ? "no ratings" : `${Number(v).toFixed(2)}★`);

function navigate(query, { replace = false } = {}) {
  const url = query ? `/?${query}` : "/";
  history[replace ? "replaceState" : "pushState"](null, "", url);
  render();
}

function movieQuery(movieId, extra = {}) {
  const p = new URLSearchParams({ movie: movieId });
  const current = params();
  for (const key of ["mode", "genre", "year_min", "year_max"]) {
    const value = key in extra ? extra[key] : current.get(key);
    if (value) p.set(key, value);
  }
  return p.toString();
}

// ---- search box with suggestions (combobox) ---------------------------------------------------

let suggestTimer = null;

function closeSuggestions() {
  $("suggestions").hidden = true;
  $("q").setAttribute("aria-expanded", "false");
  $("q").removeAttribute("aria-activedescendant");
  state.active = -1;
}

function highlight(index) {
  const options = [...$("suggestions").querySelectorAll("[role=option]")];
  if (!options.length) return;
  state.active = (index + options.length) % options.length;
  options.forEach((opt, i) => opt.setAttribute("aria-selected", String(i === state.active)));
  const chosen = options[state.active];
  $("q").setAttribute("aria-activedescendant", chosen.id);
  chosen.scrollIntoView({ block: "nearest" });
}

function showSuggestions(items, fuzzy, text) {
  const list = $("suggestions");
  list.replaceChildren();
  list.dataset.query = text;
  state.suggestions = items;
  state.active = -1;
  if (!items.length) { closeSuggestions(); return; }
  if (fuzzy) list.append(el("li", { class: "heading", role: "presentation", text: "Did you mean" }));
  items.forEach((m, i) => {
    list.append(
      el("li", { id: `sug-${i}`, role: "option", "aria-selected": "false", "data-movie-id": m.movie_id,
                 onmousedown: (e) => { e.preventDefault(); pick(i); } },
         el("span", { text: `${m.title}${yearOf(m)}` }),
         el("span", { class: "meta", text: `${m.num_ratings} ratings` })));
  });
  list.hidden = false;
  $("q").setAttribute("aria-expanded", "true");
}

async function suggest(text) {
  const seq = ++state.seq;
  if (!text.trim()) { closeSuggestions(); return; }
  try {
    let items = (await api(`/movies/suggest?limit=8&prefix=${encodeURIComponent(text)}`)).suggestions;
    let fuzzy = false;
    if (!items.length && /[\p{L}\p{N}]/u.test(text)) {
      // Nothing starts like this: the typo-tolerant title search answers instead.
      items = (await api(`/movies/search?limit=8&q=${encodeURIComponent(text)}`)).results;
      fuzzy = true;
    }
    if (seq === state.seq) showSuggestions(items, fuzzy, text);
  } catch (err) {
    if (seq === state.seq) { closeSuggestions(); $("search-status").textContent = err.message; }
  }
}

function pick(index) {
  const movie = state.suggestions[index];
  if (!movie) return;
  $("q").value = movie.title;
  closeSuggestions();
  navigate(movieQuery(movie.movie_id));
}

function submitSearch() {
  const text = $("q").value.trim();
  if (state.active >= 0) { pick(state.active); return; }
  if (!text) return;
  closeSuggestions();
  navigate(new URLSearchParams({ title: text }).toString());
}

function setUpSearch() {
  const q = $("q");
  q.addEventListener("input", () => {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => suggest(q.value), 120);
  });
  q.addEventListener("keydown", (e) => {
    const open = !$("suggestions").hidden;
    if (e.key === "ArrowDown") { e.preventDefault(); if (open) highlight(state.active + 1); else suggest(q.value); }
    else if (e.key === "ArrowUp" && open) { e.preventDefault(); highlight(state.active - 1); }
    else if (e.key === "Enter") { e.preventDefault(); submitSearch(); }
    else if (e.key === "Escape") { closeSuggestions(); }
  });
  q.addEventListener("blur", () => setTimeout(closeSuggestions, 150));
  $("go").addEventListener("click", submitSearch);
}

// ---- a movie and its recommendations ----------------------------------------------------------

function resultItem(m) {
  const genres = (m.genres || []).join(", ");
  return el("li", { "data-movie-id": m.movie_id },
    el("a", { href: `/?${movieQuery(m.movie_id)}`, onclick: (e) => { e.preventDefault(); navigate(movieQuery(m.movie_id)); } },
       `${m.title}${yearOf(m)}`),
    el("div", { class: "meta", text: `${genres || "no genre"} · ${fmtRating(m.avg_rating)} from ${m.num_ratings} ratings` }));
}

function filtersQuery(p) {
  const q = new URLSearchParams({ k: "12", mode: p.get("mode") || "audience" });
  if (p.get("genre")) q.append("genres", p.get("genre"));
  if (p.get("year_min")) q.set("year_min", p.get("year_min"));
  if (p.get("year_max")) q.set("year_max", p.get("year_max"));
  return q;
}

function syncControls(p) {
  const mode = p.get("mode") || "audience";
  document.querySelectorAll("input[name=mode]").forEach((r) => { r.checked = r.value === mode; });
  $("genre").value = p.get("genre") || "";
  $("year-min").value = p.get("year_min") || "";
  $("year-max").value = p.get("year_max") || "";
  $("recs-heading").textContent = mode === "similar" ? "Similar movies" : "People who liked this also liked";
}

async function showMovie(p) {
  $("intro").hidden = true;
  $("movie").hidden = false;
  syncControls(p);
  const status = $("search-status");
  status.textContent = "Loading…";
  $("recs").replaceChildren();
  try {
    let answer;
    if (p.get("movie")) {
      answer = await api(`/movies/${encodeURIComponent(p.get("movie"))}/recommendations?${filtersQuery(p)}`);
    } else {
      const q = filtersQuery(p);
      q.set("title", p.get("title"));
      answer = await api(`/recommendations?${q}`);
    }
    const movie = answer.movie;
    state.movie = movie;
    $("movie-title").textContent = `${movie.title}${yearOf(movie)}`;
    $("movie-meta").textContent =
      `${(movie.genres || []).join(", ") || "no genre"} · ${fmtRating(movie.avg_rating)} from ${movie.num_ratings} ratings`;
    const alternatives = answer.alternatives || [];
    const alt = $("movie-alternatives");
    alt.replaceChildren();
    alt.hidden = !alternatives.length;
    if (alternatives.length) {
      alt.append("Or did you mean: ");
      alternatives.forEach((m, i) => {
        if (i) alt.append(", ");
        alt.append(el("a", { href: `/?${movieQuery(m.movie_id)}`,
                             onclick: (e) => { e.preventDefault(); navigate(movieQuery(m.movie_id)); } },
                      `${m.title}${yearOf(m)}`));
      });
    }
    if (!$("q").value) $("q").value = movie.title;
    const recs = answer.recommendations;
    $("recs").replaceChildren(...recs.map(resultItem));
    status.textContent = recs.length
      ? `${recs.length} recommendations for ${movie.title}.`
      : `No recommendations for ${movie.title} with these filters.`;
    document.title = `${movie.title} · movierec`;
    renderRating();
  } catch (err) {
    state.movie = null;
    $("movie").hidden = true;
    $("intro").hidden = false;
    status.replaceChildren(err.status === 404 ? "No movie matches that. " : `${err.message} `);
    const suggestions = (err.body && err.body.detail && err.body.detail.suggestions) || [];
    suggestions.forEach((m, i) => {
      if (i === 0) status.append("Did you mean: ");
      else status.append(", ");
      status.append(el("a", { href: `/?${movieQuery(m.movie_id)}`,
                              onclick: (e) => { e.preventDefault(); navigate(movieQuery(m.movie_id)); } },
                       `${m.title}${yearOf(m)}`));
    });
  }
}

function setUpControls() {
  $("rec-controls").addEventListener("change", (e) => {
    if (e.target.name === "mode" && state.movie) {
      navigate(movieQuery(state.movie.movie_id, { mode: e.target.value === "audience" ? "" : e.target.value }));
    }
  });
  $("rec-controls").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!state.movie) return;
    navigate(movieQuery(state.movie.movie_id, {
      genre: $("genre").value, year_min: $("year-min").value, year_max: $("year-max").value,
    }));
  });
}

// ---- you: a demo user or a new anonymous one, ratings, consent -----------------------------------

function rated() {
  try { return JSON.parse(localStorage.getItem(RATED_KEY) || "{}"); } catch (_) { return {}; }
}

function setUser(userId) {
  state.user = userId;
  if (userId) localStorage.setItem(USER_KEY, String(userId));
  else { localStorage.removeItem(USER_KEY); localStorage.removeItem(RATED_KEY); }
  $("you-start").hidden = !!userId;
  $("you-active").hidden = !userId;
  if (userId) {
    $("you-id").textContent = String(userId);
    loadConsent();
    refreshYou();
  }
  renderRating();
}

async function refreshYou() {
  if (!state.user) return;
  const reason = $("you-reason");
  try {
    const answer = await api(`/users/${state.user}/recommendations?k=8`);
    $("you-recs").replaceChildren(...answer.recommendations.map(resultItem));
    $("you-recs").dataset.source = answer.source;
    reason.textContent = answer.source === "popular"
      ? `Popular movies for now: ${answer.reason || "no personal profile"}.`
      : "";
  } catch (err) {
    reason.textContent = err.message;
  }
  const mine = rated()[state.user] || {};
  const count = Object.keys(mine).length;
  $("you-rated").textContent = count ? `You rated ${count} movie${count > 1 ? "s" : ""} on this page.` : "";
}

async function loadConsent() {
  const box = $("consent");
  const note = $("consent-note");
  box.disabled = state.config.writes_need_key;
  note.hidden = !state.config.writes_need_key;
  note.textContent = "Changing consent needs the API key, which this page never holds.";
  try {
    const consent = await api(`/users/${state.user}/consent`);
    box.checked = consent.personalisation;
  } catch (err) {
    box.checked = !state.config.consent_required;
    box.disabled = true;
  }
}

async function changeConsent() {
  const box = $("consent");
  box.disabled = true;
  try {
    await api(`/users/${state.user}/consent`, { method: "PUT", body: JSON.stringify({ personalisation: box.checked }) });
  } catch (err) {
    box.checked = !box.checked;
    $("you-reason").textContent = err.message;
  }
  box.disabled = false;
  refreshYou();
}

function renderRating() {
  const canRate = !!state.user && !!state.movie && !state.config.writes_need_key;
  $("rate").hidden = !canRate;
  const unavailable = $("rate-unavailable");
  unavailable.hidden = !(state.movie && state.config.writes_need_key);
  unavailable.textContent = "Rating from this page is unavailable here: writes need the API key, which the page never holds.";
  if (!canRate) return;
  const given = (rated()[state.user] || {})[state.movie.movie_id];
  const stars = $("stars");
  stars.replaceChildren();
  for (let n = 1; n <= 5; n += 1) {
    stars.append(el("button", {
      type: "button", "data-stars": n, "aria-pressed": String(given === n),
      "aria-label": `${n} star${n > 1 ? "s" : ""}`, text: "★".repeat(n), onclick: () => rate(n),
    }));
  }
  $("rate-status").textContent = given ? `You gave it ${given}★.` : "";
}

async function rate(stars) {
  const movie = state.movie;
  const status = $("rate-status");
  status.textContent = "Saving…";
  try {
    const out = await api(`/users/${state.user}/ratings`, {
      method: "POST", body: JSON.stringify({ movie_id: movie.movie_id, rating: stars }),
    });
    const all = rated();
    all[state.user] = { ...(all[state.user] || {}), [movie.movie_id]: stars };
    localStorage.setItem(RATED_KEY, JSON.stringify(all));
    renderRating();
    status.textContent = `Saved ${stars}★ for ${movie.title}; your recommendations were updated (${out.num_ratings} ratings).`;
    await refreshYou();
  } catch (err) {
    status.textContent = err.status === 401 ? "Rating needs the API key on this deployment." : err.message;
  }
}

async function setUpYou() {
  $("new-user").addEventListener("click", async () => {
    try {
      const user = await api("/users", { method: "POST" });
      setUser(user.user_id);
      history.replaceState(null, "", location.search ? location.href : "/");
    } catch (err) {
      $("new-user-unavailable").hidden = false;
      $("new-user-unavailable").textContent = err.message;
    }
  });
  $("pick-demo").addEventListener("click", () => {
    const id = Number($("demo-user").value);
    if (id) setUser(id);
  });
  $("leave").addEventListener("click", () => { setUser(null); $("new-user").focus(); });
  $("consent").addEventListener("change", changeConsent);
  if (state.config.writes_need_key) {
    $("new-user").disabled = true;
    $("new-user-unavailable").hidden = false;
    $("new-user-unavailable").textContent =
      "Starting a new user and rating are unavailable here: writes need the API key, which the page never holds.";
  }
  try {
    const { users } = await api("/explore/demo-users");
    $("demo-user").replaceChildren(...users.map((u) => el("option", {
      value: u.user_id,
      text: `User ${u.user_id} · ${u.num_ratings} ratings · likes ${(u.favourite_genres || []).slice(0, 2).join(", ")}`,
    })));
  } catch (_) { /* no users indexed yet: the select stays empty */ }
}

// ---- explore -------------------------------------------------------------------------------------

let chartsLoaded = false;

async function loadCharts() {
  if (chartsLoaded) return;
  chartsLoaded = true;
  for (const box of document.querySelectorAll(".chart-box")) {
    const caption = box.parentElement.querySelector("figcaption");
    box.textContent = "Loading…";
    try {
      const resp = await fetch(`/explore/charts/${box.dataset.chart}.svg`);
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const svg = new DOMParser().parseFromString(await resp.text(), "image/svg+xml").documentElement;
      box.replaceChildren(document.importNode(svg, true));
      const desc = svg.querySelector("desc");
      caption.textContent = desc ? desc.textContent : "";
    } catch (err) {
      box.textContent = `Chart unavailable: ${err.message}`;
      chartsLoaded = false;
    }
  }
}

// ---- routing ---------------------------------------------------------------------------------------

async function render() {
  const p = params();
  const explore = p.get("view") === "explore";
  $("search-view").hidden = explore;
  $("explore-view").hidden = !explore;
  $("nav-search").toggleAttribute("aria-current", !explore);
  $("nav-explore").toggleAttribute("aria-current", explore);
  if (explore) { $("nav-explore").setAttribute("aria-current", "page"); } else { $("nav-search").setAttribute("aria-current", "page"); }
  if (p.get("user") && Number(p.get("user")) !== state.user) setUser(Number(p.get("user")));
  if (explore) { document.title = "Explore · movierec"; await loadCharts(); return; }
  if (p.get("movie") || p.get("title")) {
    if (p.get("title") && !p.get("movie")) $("q").value = p.get("title");
    await showMovie(p);
  } else {
    state.movie = null;
    $("movie").hidden = true;
    $("intro").hidden = false;
    renderRating();
  }
}

async function loadGenres() {
  try {
    const { genres } = await api("/explore/genres");
    const names = genres.map((r) => r.genre).sort();
    $("genre").append(...names.map((g) => el("option", { value: g, text: g })));
    $("genre").value = params().get("genre") || "";
  } catch (_) { /* filters stay "any" */ }
}

async function main() {
  try { state.config = await api("/page/config"); } catch (_) { /* defaults */ }
  setUpSearch();
  setUpControls();
  await Promise.all([setUpYou(), loadGenres()]);
  document.querySelectorAll("nav a[data-view]").forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault();
    navigate(a.dataset.view === "explore" ? "view=explore" : "");
  }));
  window.addEventListener("popstate", render);
  const stored = Number(localStorage.getItem(USER_KEY));
  if (!params().get("user") && stored) setUser(stored);
  else if (!params().get("user")) setUser(null);
  await render();
  document.body.dataset.ready = "true";
}

main();
