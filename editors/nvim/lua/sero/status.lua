--- The folders' runtime status as the servers report it (CONTRACT §4/§5), and the statusline.
---
--- Every `sero/statusChanged` notification and `sero/workspaceStatus` / `sero/setRuntime`
--- answer lands in `update()`. A folder whose status really changed (anything but
--- `checkedAt`) bumps a generation counter, fires `User SeroStatusChanged` and redraws the
--- statusline; a folder that becomes degraded gets one `vim.notify`. `statusline()` answers
--- from a per-buffer cache that is valid for one generation, so it costs a table lookup.
local config = require('sero.config')

local M = {}

---@class sero.Entry
---@field status table FolderStatus (CONTRACT §4)
---@field path string the folder's path
---@field client_id integer the client that reported it

---@type table<string, sero.Entry> folder URI -> entry
M.folders = {}
--- Bumped whenever any folder's status changes; invalidates the per-buffer cache.
M.generation = 0
---@type table<string, boolean> folder URI -> degraded, as last seen (survives client restarts)
local was_degraded = {}
---@type table<integer, {gen: integer, icon: any, text: string, entry: sero.Entry?}>
local cache = {}

local function uri_path(uri)
  if uri:match('^file:') then
    return config.normalize(vim.uri_to_fname(uri))
  end
  return uri
end

local function comparable(status)
  local copy = vim.deepcopy(status)
  copy.checkedAt = nil
  return copy
end

--- The entry of the folder that holds `bufnr` (the most specific one), or nil.
---@param bufnr integer
---@return sero.Entry?
local function lookup(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local container = name:match('^sero%-container://([^/]+)')
  if container then
    for _, e in pairs(M.folders) do
      local c = vim.tbl_get(e.status, 'runtime', 'container')
      if type(c) == 'table' and (c.id == container or c.name == container) then
        return e
      end
    end
    return nil
  end
  local path = require('sero.client').buf_path(bufnr) or config.normalize(vim.fn.getcwd())
  local best, best_len = nil, -1
  for _, e in pairs(M.folders) do
    if #e.path > best_len and config.contains(e.path, path) then
      best, best_len = e, #e.path
    end
  end
  return best
end

---@param bufnr integer
---@return sero.Entry?
function M.entry_for(bufnr)
  local c = cache[bufnr]
  if c and c.gen == M.generation then
    return c.entry
  end
  return lookup(bufnr)
end

---@param status table
---@param icon boolean
function M.format(status, icon)
  local text = status.mode .. (status.degraded and ' (degraded)' or '')
  if icon then
    local icons = config.options.statusline.icons
    local glyph = status.degraded and icons.degraded or icons[status.mode]
    if glyph and glyph ~= '' then
      text = glyph .. ' ' .. text
    end
  end
  return text
end

--- A short text for the folder of the current buffer: "container", "host",
--- "host (degraded)", or "" when no sero server covers it. Cheap: cached per buffer
--- until a status changes.
---@param opts? {icon?: boolean, buf?: integer}|'icon'
---@return string
function M.statusline(opts)
  local buf, icon
  if type(opts) == 'table' then
    buf, icon = opts.buf, opts.icon
  elseif opts == 'icon' then
    icon = true -- %{v:lua.require'sero'.statusline('icon')}: a dict's braces would end %{}
  end
  buf = buf or vim.api.nvim_get_current_buf()
  if icon == nil then
    icon = config.options.statusline.icon
  end
  local c = cache[buf]
  if c and c.gen == M.generation and c.icon == icon then
    return c.text
  end
  local entry = lookup(buf)
  local text = entry and M.format(entry.status, icon) or ''
  cache[buf] = { gen = M.generation, icon = icon, text = text, entry = entry }
  return text
end

local function notify_degraded(status)
  if not config.options.notify then
    return
  end
  local lines = {
    ('sero: %s runs on the host (degraded): %s'):format(
      status.name or status.uri, status.message or status.reason or ''),
  }
  for _, r in ipairs(status.remedy or {}) do
    lines[#lines + 1] = '  fix: ' .. r
  end
  vim.notify(table.concat(lines, '\n'), vim.log.levels.WARN, { title = 'sero' })
end

--- Take in folder statuses reported by client `client_id`.
---@param client_id integer
---@param folders table[] FolderStatus list
function M.update(client_id, folders)
  local changed = {}
  for _, status in ipairs(folders or {}) do
    if type(status) == 'table' and type(status.uri) == 'string' then
      local old = M.folders[status.uri]
      if not old or not vim.deep_equal(comparable(old.status), comparable(status)) then
        changed[#changed + 1] = status
      elseif old.client_id ~= client_id then
        M.generation = M.generation + 1 -- same status, new owner: cached entries must follow
      end
      M.folders[status.uri] = { status = status, path = uri_path(status.uri), client_id = client_id }
      local degraded = status.degraded == true
      if degraded and not was_degraded[status.uri] then
        notify_degraded(status)
      end
      was_degraded[status.uri] = degraded
    end
  end
  if #changed > 0 then
    M.changed(changed, client_id)
  end
end

---@param folders table[]
---@param client_id? integer
function M.changed(folders, client_id)
  M.generation = M.generation + 1
  vim.api.nvim_exec_autocmds('User', {
    pattern = 'SeroStatusChanged',
    modeline = false,
    data = { folders = folders, client_id = client_id },
  })
  vim.cmd.redrawstatus({ bang = true })
end

--- Drop what client `client_id` reported (it stopped).
---@param client_id integer
function M.forget(client_id)
  local gone = {}
  for uri, e in pairs(M.folders) do
    if e.client_id == client_id then
      M.folders[uri] = nil
      gone[#gone + 1] = { uri = uri, mode = nil }
    end
  end
  if #gone > 0 then
    M.changed(gone, client_id)
    -- Another sero client (a hub beside a wrapped server) may still cover those folders.
    for _, other in ipairs(require('sero.client').all()) do
      if other.id ~= client_id and not other:is_stopped() then
        other:request('sero/workspaceStatus', vim.empty_dict(), function(err, result)
          if not err and type(result) == 'table' then
            M.update(other.id, result.folders)
          end
        end)
      end
    end
  end
end

function M.drop_buffer(bufnr)
  cache[bufnr] = nil
end

function M.invalidate()
  cache = {}
end

--- Handler of the `sero/statusChanged` notification.
function M.on_status_changed(_, params, ctx)
  M.update(ctx.client_id, params and params.folders or {})
end

--- Ask a sero client for the status of the folder holding `bufnr` (used on attach, for
--- servers such as proxies that may not push a first notification).
---@param client vim.lsp.Client
---@param bufnr integer
function M.fetch(client, bufnr)
  local uri = vim.uri_from_bufnr(bufnr)
  client:request('sero/workspaceStatus', { uri = uri }, function(err, result)
    if not err and type(result) == 'table' then
      M.update(client.id, result.folders)
    end
  end, bufnr)
end

return M
