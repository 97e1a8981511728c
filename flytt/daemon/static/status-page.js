// flytt status page: draws the plots of #flytt-charts (rendered by the server) with uPlot.
// Each chart is kept in window.flyttCharts[name] so its data can be read back.
(function () {
  "use strict";
  var palette = ["#1f6feb", "#d4860b", "#c62828", "#2e7d32"];
  var data = JSON.parse(document.getElementById("flytt-charts").textContent);
  // times on the axes as in the header: Norwegian time, 24-hour clock, the date when the
  // plot spans more than a day
  var clock = new Intl.DateTimeFormat("nb-NO", {
    timeZone: "Europe/Oslo", hour: "2-digit", minute: "2-digit" });
  var dated = new Intl.DateTimeFormat("nb-NO", {
    timeZone: "Europe/Oslo", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" });
  function timeLabels(u, splits) {
    var xs = u.data[0];
    var format = xs.length && xs[xs.length - 1] - xs[0] > 86400 ? dated : clock;
    return splits.map(function (v) { return format.format(new Date(v * 1000)); });
  }
  window.flyttCharts = {};
  Object.keys(data).forEach(function (name) {
    var chart = data[name];
    var figure = document.getElementById("chart-" + name);
    var target = figure.querySelector(".plot");
    var series = [{}].concat(chart.labels.map(function (label, i) {
      return { label: label, stroke: palette[i % palette.length], width: 2,
               points: { show: chart.x.length < 60 } };
    }));
    var opts = {
      width: Math.max(320, target.clientWidth || 560),
      height: 220,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Europe/Oslo"); },
      series: series,
      axes: [{ values: timeLabels, space: 70 }, { label: chart.unit, size: 60 }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
    };
    window.flyttCharts[name] = new uPlot(opts, [chart.x].concat(chart.y), target);
  });
})();
