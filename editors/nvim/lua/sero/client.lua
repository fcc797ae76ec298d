--- Which LSP clients speak sero (the hub, `sero-ls proxy` wrappers), and requests to them.
local config = require('sero.config')

local M = {}

--- Does `cmd` run sero-ls (the hub, or `sero-ls proxy -- ...`)?
---@param cmd any
local function runs_sero(cmd)
  if type(cmd) ~= 'table' then
    return false
  end
  for i = 1, math.min(#cmd, 3) do
    local arg = cmd[i]
    if type(arg) == 'string' and (vim.fs.basename(arg) == 'sero-ls' or arg == 'sero_ls') then
      return true
    end
  end
  return false
end

---@param client vim.lsp.Client
---@return boolean
function M.is_sero(client)
  return client.name == 'sero_ls' or runs_sero(client.config.cmd)
end

--- Sero clients, those attached to `bufnr` first.
---@param bufnr? integer
---@return vim.lsp.Client[]
function M.all(bufnr)
  local out, seen = {}, {}
  if bufnr then
    for _, c in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
      if M.is_sero(c) then
        out[#out + 1], seen[c.id] = c, true
      end
    end
  end
  for _, c in ipairs(vim.lsp.get_clients()) do
    if not seen[c.id] and M.is_sero(c) then
      out[#out + 1] = c
    end
  end
  return out
end

--- The file path a buffer stands for (nil for buffers without one).
---@param bufnr integer
---@return string?
function M.buf_path(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' or name:match('^%a[%w+.-]*://') then
    return nil
  end
  return config.normalize(name)
end

--- The folder URI to act on for `bufnr`: the folder whose status covers it, else the
--- workspace folder of a sero client that contains it, else that client's first folder.
---@param bufnr integer
---@return string? uri, vim.lsp.Client? client
function M.folder_of(bufnr)
  local status = require('sero.status')
  local entry = status.entry_for(bufnr)
  local clients = M.all(bufnr)
  if entry then
    local owner = vim.lsp.get_client_by_id(entry.client_id)
    return entry.status.uri, owner or clients[1]
  end
  local path = M.buf_path(bufnr) or config.normalize(vim.fn.getcwd())
  for _, c in ipairs(clients) do
    for _, wf in ipairs(c.workspace_folders or {}) do
      if config.contains(config.normalize(vim.uri_to_fname(wf.uri)), path) then
        return wf.uri, c
      end
    end
  end
  local c = clients[1]
  local wf = c and c.workspace_folders and c.workspace_folders[1]
  return wf and wf.uri or nil, c
end

--- Send `method` to `client` and call `on_result(result)`; errors are reported with vim.notify.
---@param client vim.lsp.Client
---@param method string
---@param params table
---@param on_result fun(result: any)
---@param bufnr? integer
function M.request(client, method, params, on_result, bufnr)
  client:request(method, params, function(err, result)
    if err then
      vim.notify(('sero: %s failed: %s'):format(method, err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    on_result(result)
  end, bufnr)
end

return M
