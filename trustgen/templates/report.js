// Filters by action or verdict from the address (#action=reject, #verdict=trusted-ai), so a
// filtered view can be linked; the count buttons set it.
(function(){
  var rows = document.querySelectorAll('tr.row'), buttons = document.querySelectorAll('button.count');
  function apply(key, value){
    var shown = 0;
    rows.forEach(function(r){ r.hidden = key !== 'all' && r.dataset[key] !== value; if(!r.hidden) shown++; });
    buttons.forEach(function(b){
      var on = b.dataset.key === key && (key === 'all' || b.dataset.value === value);
      b.classList.toggle('active', on); b.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    document.getElementById('shown').textContent = shown;
    document.getElementById('empty').hidden = shown > 0 || rows.length === 0;
  }
  buttons.forEach(function(b){
    b.addEventListener('click', function(){
      location.hash = b.dataset.key === 'all' ? 'all' : b.dataset.key + '=' + encodeURIComponent(b.dataset.value);
    });
  });
  function fromHash(){
    var m = /^#(verdict|action)=(.*)$/.exec(location.hash), value;
    try { value = m && decodeURIComponent(m[2]); } catch (e) { m = null; }
    if (m) apply(m[1], value); else apply('all', 'all');
  }
  window.addEventListener('hashchange', fromHash); fromHash();
})();
