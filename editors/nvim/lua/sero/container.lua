--- `sero-container://<container-id>/<absolute path>` buffers: files that exist only inside a
--- folder's container (stdlib, site-packages). The content comes from the server
--- (`sero/containerFile`, else `workspace/textDocumentContent`); the buffer is read-only, gets
--- its filetype from the path, and the client that served it is attached so that
--- go-to-definition and hover keep working inside it.
local M = {}

M.timeout_ms = 10000

--- Clients to ask, best first: those whose folders live in that container, then other sero ones.
---@param container string
---@return vim.lsp.Client[]
local function candidates(container)
  local first, rest, seen = {}, {}, {}
  for _, e in pairs(require('sero.status').folders) do
    local c = vim.tbl_get(e.status, 'runtime', 'container')
    if type(c) == 'table' and (c.id == container or c.name == container) and not seen[e.client_id] then
      local client = vim.lsp.get_client_by_id(e.client_id)
      if client then
        first[#first + 1], seen[client.id] = client, true
      end
    end
  end
  for _, client in ipairs(require('sero.client').all()) do
    if not seen[client.id] then
      rest[#rest + 1], seen[client.id] = client, true
    end
  end
  return vim.list_extend(first, rest)
end

---@param client vim.lsp.Client
---@param uri string
---@return string? text, string? err
local function fetch(client, uri, bufnr)
  local last_err
  for _, method in ipairs({ 'sero/containerFile', 'workspace/textDocumentContent' }) do
    local resp, err = client:request_sync(method, { uri = uri }, M.timeout_ms, bufnr)
    if resp and not resp.err and type(resp.result) == 'table' and type(resp.result.text) == 'string' then
      return resp.result.text
    end
    last_err = err or (resp and resp.err and resp.err.message) or 'no text in the answer'
  end
  return nil, last_err
end

--- BufReadCmd handler.
---@param ev {buf: integer, match: string}
function M.read(ev)
  local bufnr, uri = ev.buf, ev.match
  local container, path = uri:match('^sero%-container://([^/]+)(/.*)$')
  local text, served_by, errors = nil, nil, {}
  if container then
    for _, client in ipairs(candidates(container)) do
      local t, err = fetch(client, uri, bufnr)
      if t then
        text, served_by = t, client
        break
      end
      errors[#errors + 1] = ('%s: %s'):format(client.name, err)
    end
  else
    errors[#errors + 1] = 'not a sero-container://<container>/<path> URI'
  end

  local bo = vim.bo[bufnr]
  bo.buftype = 'nofile'
  bo.swapfile = false
  bo.bufhidden = 'hide'
  bo.modifiable = true
  if text then
    local lines = vim.split(text, '\r?\n')
    if lines[#lines] == '' then
      table.remove(lines)
    end
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  else
    local why = #errors > 0 and table.concat(errors, '; ') or 'no sero-ls client is running'
    local msg = ('sero: cannot read %s (%s)'):format(uri, why)
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, { msg })
    -- Scheduled: an error message inside BufReadCmd would abort the caller (:edit, bufload
    -- from a definition handler) instead of leaving this explanation in the buffer.
    vim.schedule(function()
      vim.notify(msg, vim.log.levels.ERROR)
    end)
  end
  bo.modifiable = false
  bo.readonly = true
  bo.modified = false

  if text and path then
    local ft = vim.filetype.match({ filename = path, buf = bufnr })
    if ft then
      bo.filetype = ft
    end
  end
  if served_by then
    vim.lsp.buf_attach_client(bufnr, served_by.id)
  end
end

return M
