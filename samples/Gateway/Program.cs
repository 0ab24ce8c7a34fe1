using Eurus.Gateway;

return await GatewayApp.RunAsync(args);
