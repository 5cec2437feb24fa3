/* autoaudit: infinite scroll for the activity timeline.
   Without this script the "Load more" link is an ordinary link to the next
   page. With it, the next page's entries are fetched (the server sends only
   the entries when it sees the X-Autoaudit-Partial header) and appended:
   a day that continues from the previous page joins its group, and an entry
   already on the page is never added twice. */
(function () {
  "use strict";

  var timeline = document.querySelector("[data-aa-timeline]");
  if (!timeline || !window.fetch || !document.createElement("template").content) {
    return;
  }

  // Filters start open on wide screens, folded on phones.
  var filters = document.querySelector("[data-aa-filters]");
  if (filters && window.matchMedia && window.matchMedia("(min-width: 760px)").matches) {
    filters.open = true;
  }

  // Empty filters stay out of the URL (?action=delete, not ?actor_type=&...).
  var form = filters && filters.querySelector("form");
  if (form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && !field.value) {
          field.disabled = true;
        }
      });
    });
    // Coming back with the browser's back button: usable fields again.
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        field.disabled = false;
      });
    });
  }

  var observer = null;

  function lastGroup() {
    var groups = timeline.querySelectorAll("[data-aa-group]");
    return groups.length ? groups[groups.length - 1] : null;
  }

  function append(fragment, more) {
    var seen = {};
    timeline.querySelectorAll("[data-aa-entry]").forEach(function (entry) {
      seen[entry.getAttribute("data-aa-entry")] = true;
    });
    fragment.querySelectorAll("[data-aa-group]").forEach(function (group) {
      group.querySelectorAll("[data-aa-entry]").forEach(function (entry) {
        var id = entry.getAttribute("data-aa-entry");
        if (seen[id]) {
          entry.remove();
        }
        seen[id] = true;
      });
      var entries = group.querySelectorAll("[data-aa-entry]");
      if (!entries.length) {
        return;
      }
      var previous = lastGroup();
      if (previous && previous.getAttribute("data-aa-group") === group.getAttribute("data-aa-group")) {
        var list = previous.querySelector("ol");
        entries.forEach(function (entry) {
          list.appendChild(entry);
        });
      } else {
        timeline.insertBefore(group, more);
      }
    });
    var next = fragment.querySelector("[data-aa-more]");
    if (next) {
      more.replaceWith(next);
      watch(next);
    } else {
      more.remove();
    }
  }

  function load(more) {
    var link = more.querySelector("a[rel=next]");
    if (!link || more.getAttribute("aria-busy") === "true") {
      return;
    }
    if (observer) {
      observer.unobserve(more);
    }
    var label = link.textContent;
    more.setAttribute("aria-busy", "true");
    link.textContent = link.getAttribute("data-aa-loading") || label;
    fetch(link.href, {
      credentials: "same-origin",
      headers: { "X-Autoaudit-Partial": "1" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        append(template.content, more);
      })
      .catch(function () {
        // Fall back to the plain link: the next page as a whole.
        more.removeAttribute("aria-busy");
        link.textContent = label;
        window.location.href = link.href;
      });
  }

  function watch(more) {
    var link = more.querySelector("a[rel=next]");
    if (!link) {
      return;
    }
    link.addEventListener("click", function (event) {
      if (event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey) {
        event.preventDefault();
        load(more);
      }
    });
    if (observer) {
      observer.observe(more);
    }
  }

  if ("IntersectionObserver" in window) {
    observer = new IntersectionObserver(
      function (records) {
        records.forEach(function (record) {
          if (record.isIntersecting) {
            observer.unobserve(record.target);
            load(record.target);
          }
        });
      },
      { rootMargin: "600px 0px" }
    );
  }

  var first = timeline.querySelector("[data-aa-more]");
  if (first) {
    watch(first);
  }
})();
