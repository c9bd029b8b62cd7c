// The paper page: a drawing rule's category list shows the chosen bank's categories only. Without this script
// every bank's categories are listed, grouped by bank, and the server refuses a category of another bank.
(function () {
  function filter(bankSelect) {
    var categories = document.getElementById(bankSelect.getAttribute("data-categories"));
    if (!categories) {
      return;
    }
    var bank = bankSelect.value;
    categories.querySelectorAll("[data-bank]").forEach(function (node) {
      var other = node.getAttribute("data-bank") !== bank;
      node.hidden = other;
      node.disabled = other;
    });
    var chosen = categories.options[categories.selectedIndex];
    if (chosen && chosen.disabled) {
      categories.value = "0";
    }
  }

  document.querySelectorAll("select[data-categories]").forEach(function (bankSelect) {
    filter(bankSelect);
    bankSelect.addEventListener("change", function () {
      filter(bankSelect);
    });
  });
})();
