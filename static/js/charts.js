// Charts drawn from the data tables of report pages (the table stays: it is the accessible version of the chart).
// <table data-chart="bar|line" data-chart-column="N" data-chart-title="…" data-chart-max="100">: labels from each
// body row's header cell, values from column N (1-based, default 2).
(function () {
  "use strict";
  function number(text) {
    var value = parseFloat(String(text).replace(/[^0-9.\-]/g, ""));
    return isNaN(value) ? null : value;
  }
  function draw(table) {
    if (typeof window.Chart === "undefined") { return; }
    var column = parseInt(table.dataset.chartColumn || "2", 10) - 1;
    var labels = [], values = [];
    Array.prototype.forEach.call(table.tBodies[0] ? table.tBodies[0].rows : [], function (row) {
      if (row.cells.length <= column) { return; }
      labels.push(row.cells[0].textContent.trim());
      values.push(number(row.cells[column].textContent));
    });
    if (!labels.length) { return; }
    var box = document.createElement("div");
    box.className = "chart-box";
    box.setAttribute("aria-hidden", "true");  // the table below says the same to screen readers
    var canvas = document.createElement("canvas");
    box.appendChild(canvas);
    table.parentNode.insertBefore(box, table);
    var max = table.dataset.chartMax ? parseFloat(table.dataset.chartMax) : undefined;
    table.chart = new window.Chart(canvas, {
      type: table.dataset.chart === "line" ? "line" : "bar",
      data: { labels: labels, datasets: [{ label: table.dataset.chartTitle || "", data: values,
        backgroundColor: "rgba(59, 110, 165, 0.75)", borderColor: "rgb(59, 110, 165)", tension: 0.2 }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, title: { display: !!table.dataset.chartTitle, text: table.dataset.chartTitle } },
        scales: { y: { beginAtZero: true, max: max, ticks: { precision: 0 } } } }
    });
    table.dataset.chartDrawn = "1";
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table[data-chart]"), draw);
  });
})();
