using Eurus.Server;

return await EurusServer.RunAsync(args);
