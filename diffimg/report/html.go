package report

import (
	"encoding/json"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes one self-contained page (inline CSS and JS, nothing
// fetched): verdict and digests, counts per cause, and a collapsible tree
// rendered lazily from embedded JSON so that tens of thousands of
// differences load without freezing the browser.
func (r *Report) WriteHTML(w io.Writer) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// Keep "</script>" from ending the script element early.
	js := strings.ReplaceAll(string(data), "</", "<\\/")
	return htmlPage.Execute(w, struct {
		R       *Report
		Verdict string
		Data    template.JS
	}{r, r.Verdict(false), template.JS(js)})
}

func htmlEscape(s string) string { return template.HTMLEscapeString(s) }

var htmlPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>immutos-diff: {{.Verdict}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;border-bottom:1px solid #d0d7de;background:#f6f8fa}
h1{font-size:20px;margin:0 0 8px}
.ok{color:#1a7f37}.bad{color:#cf222e}
table.inputs td{padding:2px 10px 2px 0;font-family:ui-monospace,monospace;font-size:12px}
.causes span{display:inline-block;margin:4px 6px 0 0;padding:2px 8px;border-radius:10px;background:#ddf4ff;font-size:12px}
main{padding:12px 24px}
.node{margin-left:18px}
.row{cursor:pointer;padding:2px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.row:hover{background:#f6f8fa}
.tw{display:inline-block;width:14px;color:#57606a}
.kind{font-size:11px;padding:0 6px;border-radius:8px;background:#eaeef2;margin-right:6px}
.k-added{background:#dafbe1}.k-removed{background:#ffebe9}.k-unallocated{background:#fff8c5}
.where{font-weight:600;margin-right:6px}
.file{font-family:ui-monospace,monospace}
.body{margin:2px 0 6px 32px;white-space:normal}
.cause{color:#0969da;font-size:12px}
.trunc{color:#9a6700;font-size:12px}
pre{background:#f6f8fa;padding:6px;margin:4px 0;overflow:auto;font-size:12px;line-height:1.35}
pre .ln{color:#8c959f;user-select:none;display:inline-block;width:3.5em}
pre .del{background:#ffebe9;display:block}pre .ins{background:#dafbe1;display:block}pre .hunk{color:#8250df;display:block}
#more{margin:8px 0}
</style></head><body>
<header>
<h1 class="{{if .R.Identical}}ok{{else}}bad{{end}}" id="verdict">{{.Verdict}}</h1>
<table class="inputs">
<tr><td>a</td><td>{{.R.A.Path}}</td><td>{{.R.A.Format}}</td><td>{{.R.A.Size}} bytes</td><td>{{.R.A.SHA256}}</td></tr>
<tr><td>b</td><td>{{.R.B.Path}}</td><td>{{.R.B.Format}}</td><td>{{.R.B.Size}} bytes</td><td>{{.R.B.SHA256}}</td></tr>
</table>
<div class="causes" id="causes"></div>
</header>
<main><div id="tree"></div><button id="more" hidden>show more</button></main>
<script>
"use strict";
const R = {{.Data}};
const PAGE = 200;
function el(tag, cls, text){const e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;}
function where(d){let s=d.partition==null?"disk":"partition "+d.partition;if(d.filesystem)s+=" "+d.filesystem;return s;}
function pre(text, isDiff){
  const p=el("pre");let n=0;
  for(const line of text.replace(/\n$/,"").split("\n")){
    const l=el("span");
    if(isDiff&&line.startsWith("@@")){l.className="hunk";}
    else if(line.startsWith("-")&&!line.startsWith("---")){l.className="del";}
    else if(line.startsWith("+")&&!line.startsWith("+++")){l.className="ins";}
    else {l.style.display="block";}
    const ln=el("span","ln",String(++n));l.appendChild(ln);l.appendChild(document.createTextNode(line));p.appendChild(l);
  }
  return p;
}
function node(d, depth){
  const box=el("div","node");
  const row=el("div","row");
  const kids=(d.children||[]);
  const hasBody=kids.length||d.diff||d.hexdump||d.cause||d.truncated;
  const tw=el("span","tw",hasBody?"▸":"");row.appendChild(tw);
  if(depth===0)row.appendChild(el("span","where",where(d)));
  if(d.file&&depth===0)row.appendChild(el("span","file",d.file+" "));
  row.appendChild(el("span","kind k-"+d.kind,d.kind));
  row.appendChild(document.createTextNode(d.detail));
  if(d.cause)row.appendChild(el("span","cause"," · "+d.cause.class));
  row.title=(d.offset!=null?"offset "+d.offset+" length "+d.length+"\n":"")+d.detail;
  box.appendChild(row);
  let body=null;
  function open(){
    if(!hasBody)return;
    if(body){body.hidden=!body.hidden;tw.textContent=body.hidden?"▸":"▾";return;}
    body=el("div","body");
    if(d.cause){body.appendChild(el("div","cause","cause: "+d.cause.class+(d.cause.hint?" — "+d.cause.hint:"")));}
    if(d.offset!=null){body.appendChild(el("div","trunc","disk offset "+d.offset+(d.length!=null?", "+d.length+" bytes":"")));}
    if(d.truncated){body.appendChild(el("div","trunc","cut short by "+d.truncated));}
    if(d.diff)body.appendChild(pre(d.diff,true));
    if(d.hexdump)body.appendChild(pre(d.hexdump,false));
    renderList(body,kids,depth+1);
    box.appendChild(body);tw.textContent="▾";
  }
  row.addEventListener("click",open);
  box.open=open;
  return box;
}
function renderList(parent, list, depth){
  let i=0;
  const more=el("button",null,"");
  function page(){
    const end=Math.min(list.length,i+PAGE);
    const frag=document.createDocumentFragment();
    for(;i<end;i++)frag.appendChild(node(list[i],depth));
    parent.insertBefore(frag,more);
    more.hidden=i>=list.length;more.textContent="show "+Math.min(PAGE,list.length-i)+" more of "+(list.length-i);
  }
  more.addEventListener("click",page);
  parent.appendChild(more);
  page();
}
const causes=document.getElementById("causes");
for(const [k,v] of Object.entries(R.summary||{}).sort((a,b)=>b[1]-a[1])){causes.appendChild(el("span",null,k+": "+v));}
for(const n of (R.notes||[])){causes.appendChild(el("div",null,"note: "+n));}
if((R.excluded||[]).length)causes.appendChild(el("div",null,"excluded: "+R.excluded.length+" paths"));
renderList(document.getElementById("tree"),R.differences||[],0);
</script></body></html>
`))
