--- LSP handlers sero clients need: the pushed status, and `sero` settings answered per folder.
local config = require('sero.config')

local M = {}

local default_configuration = vim.lsp.handlers['workspace/configuration']

---@param section string
---@param scope_uri? string
---@param client vim.lsp.Client
local function sero_section(section, scope_uri, client)
  local path = nil
  if type(scope_uri) == 'string' and scope_uri:match('^file:') then
    path = config.normalize(vim.uri_to_fname(scope_uri))
  end
  local settings = config.settings_for(path, vim.tbl_get(client.settings or {}, 'sero'))
  local key = section:match('^sero%.(.+)$')
  if key then
    local value = vim.tbl_get(settings, unpack(vim.split(key, '.', { plain = true })))
    return value == nil and vim.NIL or value
  end
  return settings
end

--- `workspace/configuration`: items of section `sero` (or `sero.<key>`) get the settings of
--- the folder named by their `scopeUri` (CONTRACT §6); every other item is answered by
--- Neovim's default handler, from the client's `settings`.
function M.configuration(err, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client or type(params) ~= 'table' or type(params.items) ~= 'table' then
    return default_configuration(err, params, ctx)
  end
  local response = {}
  for i, item in ipairs(params.items) do
    local section = item.section or ''
    if section == 'sero' or vim.startswith(section, 'sero.') then
      response[i] = sero_section(section, item.scopeUri, client)
    else
      local one = default_configuration(err, { items = { item } }, ctx)
      local value = one and one[1]
      response[i] = value == nil and vim.NIL or value
    end
  end
  return response
end

function M.status_changed(err, params, ctx)
  require('sero.status').on_status_changed(err, params, ctx)
end

return M
