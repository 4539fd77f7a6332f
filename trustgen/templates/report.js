function applyFilter(v){
  var shown=0;
  document.querySelectorAll('tr.row').forEach(function(r){
    r.hidden = v!=='all' && r.dataset.verdict!==v; if(!r.hidden) shown++;});
  document.querySelectorAll('button.count').forEach(function(b){
    b.classList.toggle('active', b.dataset.verdict===v);});
  document.getElementById('shown').textContent = shown;
}
document.querySelectorAll('button.count').forEach(function(b){
  b.addEventListener('click', function(){ location.hash='verdict='+b.dataset.verdict; });});
function fromHash(){ var m=/verdict=([\w-]+)/.exec(location.hash); applyFilter(m?m[1]:'all'); }
window.addEventListener('hashchange', fromHash); fromHash();
