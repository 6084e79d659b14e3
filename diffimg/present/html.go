package present

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"

	"github.com/org/immutos-action/diffimg/report"
)

// HTMLOptions tune the HTML presenter.
type HTMLOptions struct {
	// FullReport names where the complete report is, for the line saying
	// how many differences a bound left out.
	FullReport string
	// MaxDifferences bounds the differences (leaves) the page embeds (0:
	// no bound), so that a browser can render it.
	MaxDifferences int
}

// HTML writes one self-contained page (inline CSS and JS, nothing
// fetched): verdict, inputs with digests and sizes, counts per cause, the
// excluded paths, and a collapsible tree partition > filesystem > file >
// nested structure with causes, hints, numbered and coloured diffs and
// hexdumps. The tree is rendered lazily from embedded JSON (deep levels
// collapsed, lists in pages of 200) so that tens of thousands of
// differences load without freezing the browser; a filter box narrows it
// by path, kind or cause.
func HTML(w io.Writer, full *report.Report, o HTMLOptions) error {
	// The places in the view (causes first, derived ones folded, many
	// alike as one) come from the whole report; Limit keeps a prefix of
	// the top-level differences, so they line up with the cut one's.
	places := viewPlaces(full)
	r := full.Limit(o.MaxDifferences)
	places = places[:len(r.Differences)]
	// The tree's partition and filesystem counts are of the whole report,
	// whatever the page embeds.
	counts := map[string]int{}
	for _, d := range full.Differences {
		part := "disk"
		if d.Partition != nil {
			part = fmt.Sprintf("partition %d", *d.Partition)
		}
		n := leaves(d)
		counts[part] += n
		if d.Filesystem != nil {
			counts[part+"/"+*d.Filesystem] += n
		}
	}
	// json.Marshal escapes <, > and & in strings, so the data cannot end
	// the script element or open a comment.
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	view, err := json.Marshal(struct {
		Places []string       `json:"places"`
		Counts map[string]int `json:"counts"`
	}{places, counts})
	if err != nil {
		return err
	}
	type input struct {
		Role string
		In   report.Input
		Size string
		Disk string
	}
	var ins []input
	for _, x := range []struct {
		role string
		in   report.Input
	}{{"a", r.A}, {"b", r.B}} {
		in := input{Role: x.role, In: x.in, Size: report.HumanBytes(x.in.Size)}
		if x.in.FileSize > 0 && x.in.FileSize != x.in.Size {
			in.Disk = report.HumanBytes(x.in.FileSize)
		}
		ins = append(ins, in)
	}
	type class struct {
		Name report.Class
		N    int
	}
	var classes []class
	for _, c := range causesFirst(r) {
		classes = append(classes, class{c, r.Summary[c]})
	}
	fullReport := o.FullReport
	if fullReport == "" {
		fullReport = "the JSON report"
	}
	// A closure rebuilt with another compiler differs in thousands of
	// store paths: the page lists the first ones, the JSON all.
	paths := r.StorePaths
	if len(paths) > maxHTMLStorePathRows {
		paths = paths[:maxHTMLStorePathRows]
	}
	return htmlPage.Execute(w, struct {
		R              *report.Report
		Verdict        string
		Inputs         []input
		Classes        []class
		Leaves         int
		FullReport     string
		StorePaths     []report.StorePath
		MoreStorePaths int
		Data           template.JS
		View           template.JS
	}{r, Verdict(r, false), ins, classes, r.Leaves(), fullReport, paths, len(r.StorePaths) - len(paths), template.JS(data), template.JS(view)})
}

func htmlEscape(s string) string { return template.HTMLEscapeString(s) }

var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>immutos-diff: {{.Verdict}}</title>
<style>
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa;--blue:#0969da;--del:#ffebe9;--ins:#dafbe1;--warn:#9a6700}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:#fff}
header{padding:16px 24px 10px;border-bottom:1px solid var(--line);background:var(--bg2)}
h1{font-size:20px;margin:0 0 8px}
.ok{color:#1a7f37}.bad{color:#cf222e}
table.inputs{border-collapse:collapse;margin-bottom:6px}
table.inputs th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;padding:2px 12px 2px 0}
table.inputs td{padding:2px 12px 2px 0;font-size:13px;vertical-align:top}
.mono,table.inputs td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.digest{word-break:break-all}
.chips{margin:6px 0 0}
.chip{display:inline-block;margin:4px 6px 0 0;padding:1px 10px;border-radius:12px;background:#ddf4ff;border:1px solid #b6e3ff;font-size:12px;cursor:pointer;font-family:inherit;color:inherit}
.chip:hover,.chip.on{background:#b6e3ff}
.note{margin:6px 0 0;font-size:13px}
.warn{color:var(--warn)}
details.excluded{margin:6px 0 0;font-size:13px}
details.excluded ul{margin:4px 0;max-height:240px;overflow:auto}
.toolbar{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid var(--line);padding:8px 24px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.toolbar input{flex:1 1 320px;max-width:640px;padding:5px 8px;border:1px solid var(--line);border-radius:6px;font:inherit}
.toolbar button{padding:4px 10px;border:1px solid var(--line);border-radius:6px;background:var(--bg2);font:inherit;font-size:13px;cursor:pointer}
#count{color:var(--muted);font-size:12px}
main{padding:8px 24px 40px}
.node{margin-left:16px}
#tree>.node{margin-left:0}
.row{cursor:pointer;padding:1px 4px;border-radius:4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.row:hover{background:var(--bg2)}
.row.leaf{cursor:default}
.tw{display:inline-block;width:14px;color:var(--muted)}
.grp{font-weight:600}
.part>.row .grp{color:#0550ae}
.n{color:var(--muted);font-size:12px;margin-left:6px}
.kind{font-size:11px;padding:0 6px;border-radius:8px;background:#eaeef2;margin-right:6px}
.k-added{background:var(--ins)}.k-removed{background:var(--del)}.k-unallocated{background:#fff8c5}.k-excluded,.k-note{background:#f6f8fa;color:var(--muted)}
span.file{margin-right:6px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.np{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;color:#8250df;margin-right:6px}
.cls{font-size:11px;padding:0 6px;border-radius:8px;background:#ddf4ff;color:#0550ae;margin-left:6px}
.cls-timestamp{background:#fff1e5;color:#953800}.cls-uuid{background:#fbefff;color:#8250df}.cls-layout,.cls-checksum{background:#eaeef2;color:var(--muted)}
.off{color:var(--muted);font-size:12px;margin-left:6px}
.body{margin:2px 0 6px 22px;padding-left:8px;border-left:2px solid #eaeef2}
.cause{font-size:13px;margin:2px 0}
.cause b{color:#0550ae}
.hint{color:var(--fg)}
.meta{color:var(--muted);font-size:12px;margin:2px 0}
.trunc{color:var(--warn);font-size:12px;margin:2px 0}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;line-height:1.4;background:var(--bg2);border:1px solid #eaeef2;border-radius:6px;margin:4px 0;overflow:auto;max-height:70vh}
.code div{white-space:pre;padding-right:8px}
.code .ln{display:inline-block;width:4.5em;padding-right:8px;text-align:right;color:#8c959f;user-select:none;border-right:1px solid #eaeef2;margin-right:8px}
.code .del{background:var(--del)}.code .ins{background:var(--ins)}
.code .hunk{color:#8250df;background:#f3f0ff}.code .hdr{font-weight:600}
.more{margin:4px 0 4px 16px;font-size:12px;padding:2px 8px;border:1px solid var(--line);border-radius:6px;background:var(--bg2);cursor:pointer}
footer{color:var(--muted);font-size:12px;padding:0 24px 24px}
noscript{display:block;padding:12px 24px}
</style></head><body>
<header>
<h1 class="{{if .R.Identical}}ok{{else}}bad{{end}}" id="verdict">{{if .R.Identical}}✔{{else}}✘{{end}} {{.Verdict}}</h1>
<table class="inputs">
<tr><th></th><th>path</th><th>format</th><th>size</th><th>sha256</th></tr>
{{range .Inputs}}<tr><td><b>{{.Role}}</b></td><td class="mono" title="{{.In.Path}}">{{.In.Path}}</td><td>{{.In.Format}}{{with .In.Table}} · {{.}}{{end}}</td><td title="{{.In.Size}} bytes decoded">{{.Size}}{{with .Disk}} ({{.}} on disk){{end}}</td><td class="mono digest">{{if .In.SHA256}}{{.In.SHA256}}{{else}}<span class="n">not computed (--digests)</span>{{end}}</td></tr>
{{end}}</table>
{{if .Classes}}<div class="chips" id="causes">{{range .Classes}}<button class="chip" data-class="{{.Name}}" title="show only {{.Name}} differences">{{.Name}}: {{.N}}</button>{{end}}</div>{{end}}
{{range .R.Notes}}<div class="note">ⓘ {{.}}</div>{{end}}
{{with .StorePaths}}<table class="inputs" id="store-paths"><caption>store paths that differ ({{len $.R.StorePaths}})</caption>
<tr><th>store path</th><th>name</th><th>files</th><th>kinds</th></tr>
{{range .}}<tr><td class="mono">{{.Path}}</td><td>{{.Name}}</td><td>{{.Files}}</td><td>{{.KindList}}</td></tr>
{{end}}{{if $.MoreStorePaths}}<tr id="store-paths-more"><td colspan="4">… and {{$.MoreStorePaths}} more; {{$.FullReport}} lists them all</td></tr>
{{end}}</table>{{end}}
{{if .R.Omitted}}<div class="note warn" id="omitted">⚠ {{.R.Omitted}} of {{.Leaves}} differences left out by --max-differences; {{.FullReport}} has them all.</div>{{end}}
{{if .R.Excluded}}<details class="excluded" id="excluded"><summary>{{len .R.Excluded}} paths excluded by --exclude (not compared)</summary><ul id="excluded-list"></ul></details>{{end}}
</header>
<div class="toolbar"><input id="filter" type="search" placeholder="filter: path or text, kind:mtime, class:timestamp, partition:2, fs:squashfs" aria-label="filter differences">
<button id="expand" title="open every file and difference shown (first pages only for big reports)">expand all</button><button id="collapse">collapse all</button><span id="count"></span></div>
<main><noscript>This report needs JavaScript for the difference tree; the same data is in the JSON report.</noscript><div id="tree"></div></main>
<footer>{{with .R.Tool}}{{.}} · {{end}}{{.R.Schema}}</footer>
<script type="application/json" id="data">{{.Data}}</script>
<script type="application/json" id="view">{{.View}}</script>
<script>
"use strict";
const R = JSON.parse(document.getElementById("data").textContent);
const V = JSON.parse(document.getElementById("view").textContent);
(R.differences||[]).forEach((d,i)=>{d._place=V.places[i];});
const PAGE = 200, MAXLINES = 1000, AUTOOPEN = 3;
function el(tag, cls, text){const e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;}
function human(n){if(n<1024)return n+" B";let u=-1;do{n/=1024;u++;}while(n>=1024&&u<5);return n.toFixed(1)+" "+"KMGTPE"[u]+"iB";}
function counts(d){return !(d.children&&d.children.length)&&d.kind!=="note"&&d.kind!=="excluded";}
function leaves(d){if(d._n==null){let n=counts(d)?1:0;for(const c of d.children||[])n+=leaves(c);d._n=n;}return d._n;}
function nestedPath(d,parent){let p=d.path||[];const q=(parent&&parent.path)||[];if(q.length<=p.length&&q.every((x,i)=>x===p[i]))p=p.slice(q.length);return p.join(" › ");}

// Group top-level differences: partition > filesystem > file; then, in
// each, the causes first, many alike as one finding, and the derived
// differences folded last (their places come from the Go side, #view).
function group(list,whole){
  const parts=new Map();
  function add(parent,d){
    if(d.file==null){parent.items.push(d);return;}
    const fm=parent.files||(parent.files=new Map());
    let f=fm.get(d.file);
    if(!f){f={type:"file",label:d.file,items:[],n:0,kinds:new Set(),classes:new Set()};fm.set(d.file,f);parent.items.push(f);}
    f.items.push(d);f.n+=leaves(d);f.kinds.add(d.kind);if(d.cause&&d.cause.class)f.classes.add(d.cause.class);
  }
  for(const d of list){
    const pk=d.partition==null?"disk":"partition "+d.partition;
    let p=parts.get(pk);
    if(!p){p={type:"part",label:pk,items:[],n:0,fss:new Map()};parts.set(pk,p);}
    p.n+=leaves(d);
    if(d.filesystem!=null){
      let f=p.fss.get(d.filesystem);
      if(!f){f={type:"fs",label:d.filesystem,items:[],n:0};p.fss.set(d.filesystem,f);p.items.push(f);}
      f.n+=leaves(d);add(f,d);
    }else add(p,d);
  }
  for(const p of parts.values()){fold(p);for(const f of p.fss.values())fold(f);}
  // Unfiltered, partitions and filesystems count every difference of the
  // report, also those a bound kept off this page.
  if(whole)for(const [pk,p] of parts){p.n=V.counts[pk]??p.n;for(const [fk,f] of p.fss)f.n=V.counts[pk+"/"+fk]??f.n;}
  return [...parts.values()];
}
function placeOf(it){
  if(it.type!=="file")return it._place||"cause";
  const ps=new Set(it.items.map(d=>d._place||"cause"));
  return ps.size===1?[...ps][0]:"cause";
}
function fold(node){
  const items=[],derived=[],mass=new Map();let nd=0;
  for(const it of node.items){
    if(it.type==="fs"){items.push(it);continue;}
    const pl=placeOf(it),n=it.type==="file"?it.n:leaves(it);
    if(pl==="derived"){derived.push(it);nd+=n;continue;}
    if(pl.startsWith("mass:")){
      let m=mass.get(pl);
      if(!m){const d=it.type==="file"?it.items[0]:it;m={type:"mass",items:[],n:0,kind:d.kind,cls:d.cause&&d.cause.class};mass.set(pl,m);items.push(m);}
      m.items.push(it);m.n+=n;continue;
    }
    if(pl==="alone")it.alone=true;
    items.push(it);
  }
  for(const m of mass.values())m.label=m.n+" "+m.kind+" differences in "+m.items.length+(m.items.length===1?" file":" files");
  if(derived.length)items.push({type:"derived",items:derived,n:nd,label:nd+(nd===1?" derived field follows":" derived fields follow")+" from the differences above"});
  node.items=items;
}

function code(text, numbered){
  const box=el("div","code");
  const lines=text.replace(/\n$/,"").split("\n");
  const unified=numbered&&/^@@ -\d/m.test(text);
  let a=0,b=0,seq=0,i=0,inHunk=false;
  const more=el("button","more");
  function page(){
    const end=Math.min(lines.length,i+MAXLINES),frag=document.createDocumentFragment();
    for(;i<end;i++){
      const line=lines[i],row=el("div");let na="",nb="";
      const m=unified&&/^@@ -(\d+)(?:,\d+)? \+(\d+)/.exec(line);
      if(m){a=+m[1];b=+m[2];inHunk=true;row.className="hunk";}
      else if(!inHunk&&(line.startsWith("--- ")||line.startsWith("+++ "))){row.className="hdr";}
      else if(line.startsWith("-")){row.className="del";na=a++;}
      else if(line.startsWith("+")){row.className="ins";nb=b++;}
      else if(line.startsWith("\\")){}
      else{na=a++;nb=b++;}
      if(!unified){na=++seq;nb=null;}
      if(numbered){row.appendChild(el("span","ln",String(na)));if(nb!==null)row.appendChild(el("span","ln",String(nb)));}
      row.appendChild(document.createTextNode(line));frag.appendChild(row);
    }
    box.appendChild(frag);
    if(i<lines.length){more.textContent="show "+Math.min(MAXLINES,lines.length-i)+" more of "+(lines.length-i)+" lines";box.appendChild(more);}else more.remove();
  }
  more.addEventListener("click",e=>{e.stopPropagation();more.remove();page();});
  page();
  return box;
}

const openers=[];
function view(it, depth, parent){
  const isDiff=!it.type;
  const box=el("div","node "+(it.type||"diff"));
  const row=el("div","row");
  const kids=isDiff?(it.children||[]):it.items;
  const pc=parent&&parent.cause,sameCause=!!(pc&&it.cause&&pc.class===it.cause.class&&pc.hint===it.cause.hint);
  const hasBody=isDiff?!!(kids.length||it.diff||it.hexdump||(it.cause&&!sameCause)||it.truncated||it.offset!=null||it.a||it.b):kids.length>0;
  const tw=el("span","tw",hasBody?"▸":"");row.appendChild(tw);
  if(!hasBody)row.classList.add("leaf");
  if(it.type==="part"||it.type==="fs"){row.appendChild(el("span","grp",it.label));row.appendChild(el("span","n",it.n+(it.n===1?" difference":" differences")));}
  else if(it.type==="mass"||it.type==="derived"){row.appendChild(el("span","grp",it.label));if(it.cls)row.appendChild(el("span","cls cls-"+it.cls,it.cls));}
  else if(it.type==="file"){
    row.dataset.file=it.label;row.appendChild(el("span","file",it.label));
    for(const k of it.kinds)row.appendChild(el("span","kind k-"+k,k));
    for(const c of it.classes)row.appendChild(el("span","cls cls-"+c,c));
    if(it.alone)row.appendChild(el("span","off warn","derived, differs alone"));
    if(it.n>1)row.appendChild(el("span","n",it.n+" differences"));
  }else{
    row.dataset.kind=it.kind;if(it.file!=null)row.dataset.file=it.file;
    const np=nestedPath(it,parent);if(np)row.appendChild(el("span","np",np));
    row.appendChild(el("span","kind k-"+it.kind,it.kind));
    row.appendChild(document.createTextNode(it.detail));
    if(it.cause&&it.cause.class)row.appendChild(el("span","cls cls-"+it.cause.class,it.cause.class));
    if(it.alone||it._place==="alone")row.appendChild(el("span","off warn","derived, differs alone"));
    if(it.truncated)row.appendChild(el("span","off warn","✂ cut short"));
    if(kids.length)row.appendChild(el("span","n",leaves(it)+" nested"));
  }
  box.appendChild(row);
  let body=null;
  function open(show,auto=true){
    if(!hasBody)return;
    if(show==null)show=!body||body.hidden;
    if(body){body.hidden=!show;tw.textContent=show?"▾":"▸";return;}
    if(!show)return;
    body=el("div","body");
    if(isDiff){
      if(it.cause&&it.cause.class&&!sameCause){const c=el("div","cause");c.appendChild(el("b",null,"cause: "+it.cause.class));if(it.cause.hint){c.appendChild(document.createTextNode(" — "));c.appendChild(el("span","hint",it.cause.hint));}body.appendChild(c);}
      if(it.field)body.appendChild(el("div","meta","field "+it.field));
      if(it.a||it.b){body.appendChild(el("div","meta mono","a: "+(it.a||"")));body.appendChild(el("div","meta mono","b: "+(it.b||"")));}
      if(it.offset!=null)body.appendChild(el("div","meta","disk offset "+it.offset+" ("+human(it.offset)+")"+(it.length!=null?", "+human(it.length)+(it.length>=1024?" ("+it.length+" bytes)":""):"")));
      if(it.truncated)body.appendChild(el("div","trunc","✂ cut short: "+it.truncated));
      if(it.diff)body.appendChild(code(it.diff,true));
      if(it.hexdump)body.appendChild(code(it.hexdump,false));
    }
    list(body,kids,depth+1,isDiff?it:parent,auto&&kids.length<=AUTOOPEN);
    box.appendChild(body);tw.textContent="▾";
  }
  row.addEventListener("click",()=>open());
  box.open=open;openers.push(open);
  return box;
}

// list renders items in pages of PAGE; open opens each rendered item.
function list(parent, items, depth, owner, open){
  let i=0;
  const more=el("button","more");
  function page(){
    const end=Math.min(items.length,i+PAGE),frag=document.createDocumentFragment();
    for(;i<end;i++){const v=view(items[i],depth,owner);frag.appendChild(v);if(open)v.open(true);}
    parent.insertBefore(frag,more);
    more.hidden=i>=items.length;more.textContent="show "+Math.min(PAGE,items.length-i)+" more of "+(items.length-i);
  }
  more.addEventListener("click",e=>{e.stopPropagation();page();});
  parent.appendChild(more);
  page();
}

// Filtering: every token must match somewhere in a top-level difference's
// subtree (kind:, class:, partition:, fs: or plain text on paths and details).
function facts(d){
  if(d._f)return d._f;
  const f={kinds:new Set(),classes:new Set(),text:[]};
  (function rec(x){f.kinds.add(x.kind);if(x.cause&&x.cause.class)f.classes.add(x.cause.class);
    f.text.push(x.detail||"",(x.path||[]).join("/"),x.field||"",x.cause&&x.cause.hint||"");for(const c of x.children||[])rec(c);})(d);
  f.text=((d.file||"")+"\n"+f.text.join("\n")).toLowerCase();
  return d._f=f;
}
function matcher(q){
  const toks=q.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if(!toks.length)return null;
  return d=>toks.every(t=>{
    const m=/^(kind|class|cause|partition|fs):(.*)$/.exec(t);const f=facts(d);
    if(!m)return f.text.includes(t);
    const v=m[2];
    switch(m[1]){
      case "kind":return f.kinds.has(v);
      case "class":case "cause":return f.classes.has(v);
      case "partition":return v==="disk"?d.partition==null:String(d.partition)===v;
      case "fs":return (d.filesystem||"").toLowerCase()===v;
    }
  });
}

const tree=document.getElementById("tree"),count=document.getElementById("count"),filter=document.getElementById("filter");
const all=R.differences||[];
function render(collapsed){
  const m=matcher(filter.value);
  const shown=m?all.filter(m):all;
  openers.length=0;tree.textContent="";
  const total=all.reduce((n,d)=>n+leaves(d),0);
  const n=shown.reduce((s,d)=>s+leaves(d),0);
  count.textContent=m?n+" of "+total+" differences match":total+" differences"+(R.omitted?" shown, "+R.omitted+" left out":"");
  if(!all.length){tree.appendChild(el("p",null,R.identical?"The inputs are identical.":"No differences listed."));return;}
  const groups=group(shown,!m);
  // Partitions and filesystems open; files open only for small results.
  const openFiles=!collapsed&&shown.length<=(m?50:8);
  list(tree,groups,0,null,false);
  for(const g of tree.children){if(g.open){g.open(true,false);}}
  for(const fs of tree.querySelectorAll(".node.part>.body>.node.fs"))fs.open(true,false);
  for(const m of tree.querySelectorAll(".node.part .node.mass"))m.open(true,false);
  if(openFiles)for(const f of tree.querySelectorAll(".node.file"))f.open(true);
}
let timer=0;
filter.addEventListener("input",()=>{clearTimeout(timer);timer=setTimeout(()=>render(),150);});
for(const c of document.querySelectorAll(".chip[data-class]"))c.addEventListener("click",()=>{
  const t="class:"+c.dataset.class;const on=filter.value.trim()===t;filter.value=on?"":t;
  for(const o of document.querySelectorAll(".chip"))o.classList.toggle("on",!on&&o===c);render();});
document.getElementById("collapse").addEventListener("click",()=>render(true));
document.getElementById("expand").addEventListener("click",()=>{for(let i=0;i<openers.length&&i<5000;i++)openers[i](true);});
const ex=document.getElementById("excluded-list");
if(ex){
  // Fold excluded subtrees into their top-most excluded path.
  const ps=[...R.excluded].sort(),roots=[],idx=new Map();
  for(const p of ps){let top=-1;for(let q=p;q&&q!=="/";q=q.slice(0,Math.max(q.lastIndexOf("/"),0))){if(idx.has(q))top=idx.get(q);if(!q.includes("/"))break;}
    if(top>=0){roots[top].below++;continue;}idx.set(p,roots.length);roots.push({p,below:0});}
  const frag=document.createDocumentFragment();
  for(const r of roots.slice(0,2000)){const li=el("li");li.appendChild(el("span","file",r.p));if(r.below)li.appendChild(el("span","n","and "+r.below+" below"));frag.appendChild(li);}
  if(roots.length>2000)frag.appendChild(el("li","n",(roots.length-2000)+" more in the JSON report"));
  ex.appendChild(frag);
}
render();
document.body.dataset.ready="1";
</script></body></html>
`))
